"""Campaign files: loading, every bad-file message with its line, credentials, format options."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import formatter
from bot.campaign import (
    Account,
    Campaign,
    CampaignError,
    Problem,
    load_campaign,
    load_campaigns,
    validate_files,
)
from bot.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "campaigns"
BAD = DATA / "bad"
SHARED = DATA / "shared"
EXAMPLES = sorted((ROOT / "config" / "campaigns").glob("*.yaml"))

# Each bad file, and every line `crieur validate` must print for it ("{f}" is the file's path).
BAD_FILES = {
    "unknown_key_top.yaml": ["{f}:9: gracee: unknown key 'gracee' (did you mean 'grace'?)"],
    "unknown_key_nested.yaml": ["{f}:9: schedule.spacin: unknown key 'spacin' (did you mean 'spacing'?)"],
    "bad_timezone.yaml": [
        '{f}:2: timezone: unknown time zone "Europe/Pariss" (use an IANA name such as Europe/Paris)'],
    "bad_cron.yaml": ['{f}:10: schedule.slots[1]: invalid cron expression "61 8 * * *"'],
    "bad_cron_shapes.yaml": [
        '{f}:8: schedule.slots[1]: invalid cron expression "@reboot": unknown macro; use one of '
        "@annually, @daily, @hourly, @midnight, @monthly, @weekly, @yearly",
        '{f}:8: schedule.slots[2]: invalid cron expression "0 9 * *": expected 5 fields '
        "(minute hour day month weekday)",
    ],
    "bad_day_name.yaml": [
        '{f}:8: schedule.slots[0]: invalid cron expression "30 8 * * mon-fryday": '
        'unknown weekday "fryday" (use 0-7 or sun-sat)'],
    "bad_duration.yaml": ['{f}:9: schedule.spacing: invalid duration "20 sec": use e.g. 20s, 5m, 1h, 1h30m'],
    "bad_quiet_hours.yaml": [
        '{f}:9: schedule.quiet_hours: invalid quiet hours "22h-07h": expected "HH:MM-HH:MM", e.g. "22:00-07:00"'],
    "literal_secret.yaml": ["{f}:7: accounts.desk-mastodon.access_token: literal secret; use ${{VAR}}"],
    "bad_credentials_ref.yaml": [
        '{f}:6: accounts.desk-m.instance: invalid URL "mastodon.example": expected http:// or https://',
        '{f}:7: accounts.desk-m.credentials: expected "file" or a credentials .toml path '
        "(e.g. ~/.config/crieur/credentials.toml#desk-x)",
    ],
    "missing_platform.yaml": ["{f}:4: accounts.desk-x: missing key 'platform' (one of bluesky, dryrun, mastodon, x)"],
    "unknown_platform.yaml": [
        "{f}:5: accounts.desk-m.platform: unknown platform 'mastodn' (did you mean 'mastodon'?) "
        "(known: bluesky, dryrun, mastodon, x)"],
    "bad_as.yaml": ["{f}:6: accounts.desk-x.as: must be one of 'x', 'mastodon' or 'bluesky' (got 'myspace')"],
    "x_incomplete_credentials.yaml": [
        "{f}:4: accounts.desk-x: incomplete OAuth 1.0a credentials: missing consumer_secret, access_token_secret"],
    "bad_format_option.yaml": [
        "{f}:11: format.x.numbering: must be one of 'suffix', 'prefix', 'thread' or 'none' (got 'sufix')"],
    "max_posts_zero.yaml": ["{f}:10: format.x.max_posts: must be at least 1"],
    "several_problems.yaml": [
        '{f}:9: schedule.spacing: invalid duration "20": use e.g. 20s, 5m, 1h, 1h30m',
        "{f}:11: format.x.hashtags.max_tags: expected a whole number",
        "{f}:11: format.x.hashtags.placement: must be one of 'inline', 'end', 'start', 'spread' or "
        "'inline+end' (got 'middle')",
    ],
    "yaml_syntax.yaml": [
        "{f}:9: YAML syntax error: expected ',' or ']', but got '<scalar>' "
        "(while parsing a flow sequence that starts on line 8)"],
    "wrong_type.yaml": ["{f}:8: schedule.slots: expected a list, not an int value"],
    "missing_name.yaml": ["{f}:1: name: missing required key"],
    "empty.yaml": ["{f}:1: empty campaign file; a campaign needs name, timezone, accounts and schedule"],
    "comments_only.yaml": ["{f}:1: empty campaign file; a campaign needs name, timezone, accounts and schedule"],
    "top_level_list.yaml": [
        "{f}:1: a campaign file must be a mapping of keys (name, timezone, accounts, schedule, …), not a list"],
    "duplicate_key.yaml": ["{f}:9: schedule: duplicate key 'schedule'"],
    "all_slots_quiet.yaml": ["{f}:8: schedule.slots: no slot in the next five years outside quiet_hours"],
    "bad_retry.yaml": ["{f}:10: retry.max_attempts: must be at least 1"],
    "empty_sections.yaml": ["{f}:3: accounts: must not be empty", "{f}:5: schedule.slots: must not be empty"],
}


def test_the_bad_table_covers_every_bad_file() -> None:
    assert sorted(BAD_FILES) == sorted(p.name for p in BAD.glob("*.yaml"))
    assert len(BAD_FILES) >= 15


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_messages(name: str) -> None:
    path = str(BAD / name)
    expected = [line.format(f=path) for line in BAD_FILES[name]]
    assert [str(p) for p in validate_files([path])] == expected
    with pytest.raises(BadInput) as caught:
        load_campaign(path)
    assert str(caught.value) == "\n".join(expected)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("name", "secret"), [("literal_secret.yaml", "zq8-SECRET-token-value"),
                                              ("bad_credentials_ref.yaml", "hunter2-secret")])
def test_a_literal_secret_never_appears_in_a_message(name: str, secret: str) -> None:
    path = BAD / name
    assert secret in path.read_text()
    problems = validate_files([path])
    assert problems and all(secret not in str(p) for p in problems)
    with pytest.raises(BadInput) as caught:
        load_campaign(path)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    # no chained pydantic error carrying the input either
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_problem_formats() -> None:
    assert str(Problem("c.yaml", 14, "schedule.slots[1]", 'invalid cron expression "61 8 * * *"')) == \
        'c.yaml:14: schedule.slots[1]: invalid cron expression "61 8 * * *"'
    assert str(Problem("c.yaml", None, "", "no such file")) == "c.yaml: no such file"
    assert str(Problem("c.yaml", 3, "", "YAML syntax error: x")) == "c.yaml:3: YAML syntax error: x"


def test_validate_reports_every_problem_of_a_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "name: many problems\n"
        "timezone: Mars/Olympus\n"
        "lang: 42\n"
        "accounts:\n"
        "  desk-m:\n"
        "    platform: mastodon\n"
        "    instanc: https://m.example\n"
        "    access_token: ${M_TOKEN}\n"
        "    visibility: publik\n"
        "schedule:\n"
        "  slots: ['30 8 * * mon-fryday', '61 8 * * *']\n"
        "  spacing: 20 sec\n"
        "format:\n"
        "  myspace: {}\n"
    )
    f = str(path)
    assert [str(p) for p in validate_files([f])] == [
        f'{f}:1: name: invalid name "many problems": use letters, digits, "-", "_", "." or "@"',
        f'{f}:2: timezone: unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Paris)',
        f"{f}:3: lang: expected a text value",
        f"{f}:5: accounts.desk-m.instance: missing required key",
        f"{f}:7: accounts.desk-m.instanc: unknown key 'instanc' (did you mean 'instance'?)",
        f"{f}:9: accounts.desk-m.visibility: must be one of 'public', 'unlisted', 'private' or 'direct' "
        "(got 'publik')",
        f'{f}:11: schedule.slots[0]: invalid cron expression "30 8 * * mon-fryday": unknown weekday "fryday" '
        "(use 0-7 or sun-sat)",
        f'{f}:11: schedule.slots[1]: invalid cron expression "61 8 * * *"',
        f'{f}:12: schedule.spacing: invalid duration "20 sec": use e.g. 20s, 5m, 1h, 1h30m',
        f"{f}:14: format.myspace: unknown platform 'myspace' (known: bluesky, dryrun, mastodon, x)",
    ]


def test_validate_several_files_and_a_missing_one(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    problems = validate_files([BAD / "bad_cron.yaml", missing, BAD / "missing_name.yaml"])
    assert [p.file for p in problems] == [str(BAD / "bad_cron.yaml"), missing, str(BAD / "missing_name.yaml")]
    assert str(problems[1]) == f"{missing}: no such file"


# --- good files ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_campaigns_load(path: Path) -> None:
    assert validate_files([path]) == []
    campaign = load_campaign(path)
    assert isinstance(campaign, Campaign)
    assert campaign.path == path
    assert campaign.schedule.next_slot(datetime.now(timezone.utc)) > datetime.now(timezone.utc)


def test_example_campaigns_load_together() -> None:
    assert {p.name for p in EXAMPLES} >= {"example.yaml", "newsdesk.yaml"}
    campaigns = load_campaigns(EXAMPLES)
    assert sorted(c.name for c in campaigns) == ["example", "newsdesk", "reviewed"]


def test_example_uses_only_dryrun_accounts() -> None:
    campaign = load_campaign(ROOT / "config" / "campaigns" / "example.yaml")
    assert {a.platform for a in campaign.accounts.values()} == {"dryrun"}
    assert campaign.accounts["desk-dryrun-x"].profile == "x"
    assert campaign.schedule.spacing == timedelta(milliseconds=200)
    assert campaign.accounts["desk-dryrun-x"].credentials(env={}) == {}


def test_the_issue_shape_loads_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "campaigns" / "ukraine.yaml"
    path.parent.mkdir()
    path.write_text(ISSUE_SHAPE)
    c = load_campaign(path)
    assert c.name == "ukraine-live"
    assert c.timezone == ZoneInfo("Europe/Paris") and c.timezone.key == "Europe/Paris"
    assert c.lang == "fr"
    assert list(c.accounts) == ["desk-mastodon", "desk-x"]
    m = c.accounts["desk-mastodon"]
    assert isinstance(m, Account)
    assert (m.name, m.platform, m.profile) == ("desk-mastodon", "mastodon", "mastodon")
    assert m.settings == {"instance": "https://mastodon.example", "visibility": "public"}
    assert m.credential_refs == {"access_token": "${DESK_MASTODON_TOKEN}"}
    assert m.offset == timedelta(0)
    x = c.accounts["desk-x"]
    assert x.credential_refs == {
        "consumer_key": "${DESK_X_CONSUMER_KEY}", "consumer_secret": "${DESK_X_CONSUMER_SECRET}",
        "access_token": "${DESK_X_ACCESS_TOKEN}", "access_token_secret": "${DESK_X_ACCESS_TOKEN_SECRET}",
    }
    assert x.offset == timedelta(minutes=5)
    # relative paths are relative to the campaign file
    assert c.sources.files == (str(tmp_path / "campaigns" / "articles" / "*.txt"),)
    assert c.sources.folder == tmp_path / "inbox"
    assert c.sources.feed is not None and c.sources.feed.url == "https://example.org/feed.xml"
    assert c.sources.feed.backfill == 3
    assert c.schedule.expressions == ("30 8 * * mon-fri", "0 18 * * *")
    assert c.schedule.spacing == timedelta(seconds=20)
    assert c.grace == timedelta(hours=1)
    assert (c.retry.max_attempts, c.retry.initial, c.retry.maximum) == (10, timedelta(seconds=30), timedelta(hours=1))
    # the account offset is known to the schedule by name too
    monday = datetime(2026, 6, 1, 0, 0, tzinfo=timezone.utc)
    assert c.schedule.next_slot(monday, "desk-x") == c.schedule.next_slot(monday, x)
    assert c.schedule.next_slot(monday, x) == datetime(2026, 6, 1, 6, 35, tzinfo=timezone.utc)


ISSUE_SHAPE = """\
name: ukraine-live
timezone: Europe/Paris
lang: fr
accounts:
  desk-mastodon:
    platform: mastodon
    instance: https://mastodon.example
    access_token: ${DESK_MASTODON_TOKEN}
    visibility: public
  desk-x:
    platform: x
    consumer_key: ${DESK_X_CONSUMER_KEY}
    consumer_secret: ${DESK_X_CONSUMER_SECRET}
    access_token: ${DESK_X_ACCESS_TOKEN}
    access_token_secret: ${DESK_X_ACCESS_TOKEN_SECRET}
    offset: 5m
sources:
  files: ["articles/*.txt"]
  folder: ../inbox/
  feed: https://example.org/feed.xml
  backfill: 3
schedule:
  slots: ["30 8 * * mon-fri", "0 18 * * *"]
  spacing: 20s
format:
  x: {numbering: prefix, link: first, hashtags: {max_tags: 1, placement: inline}}
  mastodon: {max_posts: 4, hashtags: {max_tags: 5, placement: end}}
"""


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "name: anchors\ntimezone: UTC\n"
        "accounts:\n"
        "  a: &dry {platform: dryrun, as: x}\n"
        "  b: {<<: *dry, offset: 1m}\n"
        "schedule: {slots: ['0 9 * * *']}\n"
    )
    c = load_campaign(path)
    assert c.accounts["b"].profile == "x" and c.accounts["b"].offset == timedelta(minutes=1)


def test_slots_and_quiet_hours_may_be_single_strings(tmp_path: Path) -> None:
    path = tmp_path / "single.yaml"
    path.write_text("name: single\ntimezone: UTC\naccounts: {a: {platform: dryrun}}\n"
                    "schedule: {slots: '0 9 * * 1-5', quiet_hours: '22:00-07:00'}\n")
    c = load_campaign(path)
    assert c.schedule.expressions == ("0 9 * * 1-5",)
    assert c.schedule.quiet_hours[0].text == "22:00-07:00"
    assert c.accounts["a"].profile == "dryrun"


# --- accounts across files ----------------------------------------------------------------


def test_an_account_redefined_differently_in_two_files() -> None:
    a, b = str(SHARED / "a.yaml"), str(SHARED / "b.yaml")
    expected = (f"{b}:6: accounts.desk-mastodon: account desk-mastodon is defined differently in {a} "
                "(differs in instance, visibility); an account name is global: define it identically in both files")
    assert [str(p) for p in validate_files([a, b])] == [expected]
    with pytest.raises(BadInput) as caught:
        load_campaigns([a, b])
    assert str(caught.value) == expected
    # each file alone is fine
    assert load_campaign(a).name == "shared-a" and load_campaign(b).name == "shared-b"


def test_an_account_defined_identically_is_shared_and_a_campaign_name_is_unique() -> None:
    a, same = str(SHARED / "a.yaml"), str(SHARED / "same.yaml")
    assert [str(p) for p in validate_files([a, same])] == [
        f"{same}:1: name: campaign shared-a is also defined in {a}"]
    assert len(load_campaigns([a, a])) == 1  # the same file twice is read once


# --- credentials --------------------------------------------------------------------------


def test_credentials_expand_from_the_environment() -> None:
    c = load_campaign(ROOT / "config" / "campaigns" / "newsdesk.yaml")
    env = {"DESK_X_CONSUMER_KEY": "ck", "DESK_X_CONSUMER_SECRET": "cs",
           "DESK_X_ACCESS_TOKEN": "at", "DESK_X_ACCESS_TOKEN_SECRET": "ats"}
    assert c.accounts["desk-x"].credentials(env) == {
        "consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}


def test_a_missing_variable_is_an_error_only_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESK_X_ACCESS_TOKEN", raising=False)
    c = load_campaign(ROOT / "config" / "campaigns" / "newsdesk.yaml")  # loads without any variable
    env = {"DESK_X_CONSUMER_KEY": "ck", "DESK_X_CONSUMER_SECRET": "cs", "DESK_X_ACCESS_TOKEN_SECRET": "ats"}
    with pytest.raises(BadInput) as caught:
        c.accounts["desk-x"].credentials(env)
    assert str(caught.value) == "account desk-x: environment variable DESK_X_ACCESS_TOKEN is not set"
    with pytest.raises(BadInput) as caught:  # every missing variable is named at once
        c.accounts["desk-x"].credentials({"DESK_X_CONSUMER_KEY": "ck", "DESK_X_ACCESS_TOKEN": ""})
    assert str(caught.value) == ("account desk-x: environment variables DESK_X_CONSUMER_SECRET, "
                                 "DESK_X_ACCESS_TOKEN_SECRET are not set; environment variable DESK_X_ACCESS_TOKEN is empty")
    with pytest.raises(BadInput, match="DESK_MASTODON_TOKEN is empty"):
        c.accounts["desk-mastodon"].credentials({"DESK_MASTODON_TOKEN": ""})
    monkeypatch.setenv("DESK_MASTODON_TOKEN", "from-os-environ")
    assert c.accounts["desk-mastodon"].credentials() == {"access_token": "from-os-environ"}


def _file_campaign(tmp_path: Path, ref: str) -> Campaign:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: c\ntimezone: UTC\naccounts:\n  desk-m:\n    platform: mastodon\n"
        f"    instance: https://m.example\n    credentials: {ref}\nschedule: {{slots: ['0 9 * * *']}}\n")
    return load_campaign(path)


def test_credentials_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "secrets" / "credentials.toml"
    creds.parent.mkdir()
    creds.write_text('[desk-m]\naccess_token = "tok-1"\n[other]\naccess_token = "tok-2"\n')
    creds.chmod(0o600)
    assert _file_campaign(tmp_path, "secrets/credentials.toml").accounts["desk-m"].credentials({}) == \
        {"access_token": "tok-1"}
    account = _file_campaign(tmp_path, "secrets/credentials.toml#other").accounts["desk-m"]
    assert account.credential_refs == {"credentials": "secrets/credentials.toml#other"}
    assert account.credentials({}) == {"access_token": "tok-2"}
    # `credentials: file` is the file `crieur auth` writes, found when used
    monkeypatch.setenv("CRIEUR_CREDENTIALS", str(creds))
    assert _file_campaign(tmp_path, "file").accounts["desk-m"].credentials({}) == {"access_token": "tok-1"}
    with pytest.raises(BadInput) as caught:
        _file_campaign(tmp_path, "file#nobody").accounts["desk-m"].credentials({})
    assert str(caught.value) == f"account desk-m: credentials file {creds} has no [nobody] table"
    creds.chmod(0o644)
    with pytest.raises(BadInput, match="readable by other users; run: chmod 600"):
        _file_campaign(tmp_path, "file").accounts["desk-m"].credentials({})
    monkeypatch.setenv("CRIEUR_CREDENTIALS", str(tmp_path / "missing.toml"))
    with pytest.raises(BadInput, match=r"missing\.toml does not exist \(run crieur auth\)"):
        _file_campaign(tmp_path, "file").accounts["desk-m"].credentials({})


# --- format options -----------------------------------------------------------------------


def test_format_options_merge_over_the_platform_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(ISSUE_SHAPE)
    c = load_campaign(path)
    x_default = formatter.default_options("x")
    x = c.format_options("x")
    assert (x.numbering, x.link) == ("prefix", "first")
    assert x.max_posts == x_default.max_posts
    base_budget = x_default.hashtags or formatter.HashtagBudget()
    assert x.hashtags == formatter.HashtagBudget(
        max_tags=1, max_per_post=base_budget.max_per_post, max_chars=base_budget.max_chars, placement="inline")
    m = c.format_options("mastodon")
    assert (m.max_posts, m.hashtags.max_tags, m.hashtags.placement) == (4, 5, "end")
    assert m.numbering == formatter.default_options("mastodon").numbering
    assert c.format_options("bluesky") == formatter.default_options("bluesky")


def test_format_options_without_default_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(formatter, "default_options", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text(ISSUE_SHAPE)
    c = load_campaign(path)
    assert c.format_options("bluesky") == formatter.FormatOptions()
    assert c.format_options("mastodon") == formatter.FormatOptions(
        max_posts=4, hashtags=formatter.HashtagBudget(max_tags=5, placement="end"))


# --- plug-in platforms --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_plugin_scan() -> Iterator[None]:
    """Each test sees the entry points it sets up: the registry scans once per process."""
    from bot.platforms import registry

    registry.forget()
    yield
    registry.forget()


def test_a_platform_registered_by_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = importlib.metadata.EntryPoint(name="threads", value="crieur_threads:ThreadsAdapter",
                                           group="crieur.adapters")
    real = importlib.metadata.entry_points

    def entry_points(**kwargs: str) -> object:
        if kwargs.get("group") == "crieur.adapters":
            return [plugin]
        return real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: c\ntimezone: UTC\naccounts:\n  desk-t:\n    platform: threads\n    profile_id: 42\n"
        "    api_token: ${THREADS_TOKEN}\nschedule: {slots: ['0 9 * * *']}\nformat: {threads: {max_posts: 3}}\n")
    c = load_campaign(path)
    account = c.accounts["desk-t"]
    assert (account.platform, account.settings, account.credential_refs) == (
        "threads", {"profile_id": 42}, {"api_token": "${THREADS_TOKEN}"})
    assert c.format_options("threads").max_posts == 3
    path.write_text(path.read_text().replace("${THREADS_TOKEN}", "plain-text-token"))
    assert [str(p) for p in validate_files([path])] == [
        f"{path}:7: accounts.desk-t.api_token: literal secret; use ${{VAR}}"]


# --- retry policy -------------------------------------------------------------------------


def test_retry_backoff_doubles_up_to_the_maximum(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(ISSUE_SHAPE + "retry: {max_attempts: 6, initial: 10s, maximum: 1m}\ngrace: 30m\n")
    c = load_campaign(path)
    assert c.retry.max_attempts == 6 and c.grace == timedelta(minutes=30)
    assert [c.retry.delay(n).seconds for n in range(1, 6)] == [10, 20, 40, 60, 60]
    default = load_campaign(ROOT / "config" / "campaigns" / "newsdesk.yaml").retry
    assert [default.delay(n) for n in (1, 2, 8, 10)] == [
        timedelta(seconds=30), timedelta(minutes=1), timedelta(hours=1), timedelta(hours=1)]


def test_error_for_a_campaign_error_is_bad_input_with_problems() -> None:
    with pytest.raises(CampaignError) as caught:
        load_campaign(BAD / "several_problems.yaml")
    assert isinstance(caught.value, BadInput)
    assert len(caught.value.problems) == 3
    assert all(isinstance(p, Problem) for p in caught.value.problems)


def test_no_environment_is_read_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", {})
    assert load_campaign(ROOT / "config" / "campaigns" / "newsdesk.yaml").name == "newsdesk"


def test_yaml_booleans_in_text_fields_get_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "norway.yaml"
    path.write_text("name: c\ntimezone: UTC\nlang: no\naccounts: {a: {platform: dryrun}}\n"
                    "schedule: {slots: ['0 9 * * *']}\n")
    assert [str(p) for p in validate_files([path])] == [
        f"{path}:3: lang: expected a text value; YAML read this as true/false, put it in quotes"]
    path.write_text(path.read_text().replace("lang: no", 'lang: "no"'))
    assert load_campaign(path).lang == "no"


def test_short_forms_are_reported_as_written(tmp_path: Path) -> None:
    path = tmp_path / "short.yaml"
    path.write_text("name: c\ntimezone: UTC\naccounts: {a: {platform: dryrun}}\n"
                    "sources:\n  feed: ftp://example.org/feed\n"
                    "schedule:\n  slots: '0 9 * * 8'\n  quiet_hours: '7-9'\n")
    assert [str(p) for p in validate_files([path])] == [
        f'{path}:5: sources.feed: invalid URL "ftp://example.org/feed": expected http:// or https://',
        f'{path}:7: schedule.slots: invalid cron expression "0 9 * * 8": unknown weekday "8" (use 0-7 or sun-sat)',
        f'{path}:8: schedule.quiet_hours: invalid quiet hours "7-9": expected "HH:MM-HH:MM", e.g. "22:00-07:00"',
    ]


def test_review_required_on_the_campaign_or_one_account(tmp_path: Path) -> None:
    campaign = load_campaign(ROOT / "config" / "campaigns" / "review.yaml")
    assert campaign.review == "required"
    assert campaign.review_for(campaign.accounts["desk-review-x"]) == "required"
    assert campaign.review_for(campaign.accounts["desk-review-bluesky"]) == "none"
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "config" / "campaigns" / "review.yaml").read_text(encoding="utf-8")
                   .replace("review: required ", "review: maybe "), encoding="utf-8")
    with pytest.raises(CampaignError) as error:
        load_campaign(bad)
    assert "bad.yaml:6: review:" in str(error.value)


def test_format_cut_setting(tmp_path: Path) -> None:
    path = tmp_path / "cut.yaml"
    path.write_text(
        "name: cut\ntimezone: UTC\naccounts: {a: {platform: dryrun, as: x}}\n"
        "schedule: {slots: ['0 9 * * *']}\n"
        "format:\n  x: {cut: compact}\n"
    )
    c = load_campaign(path)
    assert c.format_options("x").cut == "compact"
    assert c.format_options("mastodon").cut == "readable"  # the default
    bad = tmp_path / "bad_cut.yaml"
    bad.write_text(path.read_text().replace("cut: compact", "cut: tidy"))
    with pytest.raises(BadInput) as info:
        load_campaign(bad)
    assert f"{bad}:6: format.x.cut: must be one of 'readable' or 'compact' (got 'tidy')" in str(info.value)


def test_built_in_platforms_need_no_entry_point_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[object] = []
    real = importlib.metadata.entry_points

    def entry_points(**kwargs: str) -> object:
        scans.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    path = tmp_path / "builtin.yaml"
    path.write_text(
        "name: builtin\ntimezone: UTC\naccounts: {a: {platform: dryrun, as: x}}\n"
        "schedule: {slots: ['0 9 * * *']}\nformat:\n  mastodon: {cut: compact}\n"
    )
    load_campaign(path)
    assert scans == []
    path.write_text(path.read_text().replace("mastodon: {cut", "myspace: {cut"))
    with pytest.raises(BadInput):
        load_campaign(path)
    assert scans  # a name that is not built in: the plug-ins are looked up
