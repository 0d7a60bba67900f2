"""`crieur validate`, `crieur enqueue` and `crieur queue …` end to end, as real processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def crieur(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of the example config with a queue/ directory, as a newcomer's checkout has."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "queue").mkdir()
    return tmp_path


def test_validate_accepts_the_examples(workdir: Path) -> None:
    done = crieur("validate", *map(str, sorted((workdir / "config" / "campaigns").glob("*.yaml"))), cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_validate_reports_file_line_field_and_exits_2(workdir: Path) -> None:
    bad = workdir / "bad.yaml"
    bad.write_text(
        "name: bad\ntimezone: Europe/Paris\naccounts:\n  a:\n    platform: dryrun\n"
        "schedule:\n  slots: ['30 8 * * *', '61 8 * * *']\n  spacin: 20s\n",
        encoding="utf-8",
    )
    done = crieur("validate", str(bad), cwd=workdir)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f'{bad}:7: schedule.slots[1]: invalid cron expression "61 8 * * *"' in done.stderr
    assert f"{bad}:8: schedule.spacin:" in done.stderr


def test_enqueue_then_duplicate_then_check_changes_nothing(workdir: Path) -> None:
    campaign = "config/campaigns/example.yaml"
    first = crieur("enqueue", campaign, cwd=workdir)
    assert first.returncode == 0, first.stderr
    assert "store: sqlite:///" in first.stderr and "queue/crieur.db" in first.stderr
    queued = [line for line in first.stdout.splitlines() if ": queued (" in line]
    articles = len(list((workdir / "config" / "articles").glob("*.txt")))
    assert len(queued) == 3 * articles  # three accounts in the example campaign

    again = crieur("enqueue", campaign, cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already queued") == 3 * articles

    listing = json.loads(crieur("queue", "list", "--json", cwd=workdir).stdout)
    article = workdir / "config" / "articles" / "de-radweg.txt"
    article.write_text(article.read_text(encoding="utf-8").replace("Samstag", "Sonntag"), encoding="utf-8")
    dry = crieur("enqueue", campaign, str(article), "--check", cwd=workdir)
    assert dry.returncode == 0, dry.stderr
    assert "would be re-formatted" in dry.stdout
    assert json.loads(crieur("queue", "list", "--json", cwd=workdir).stdout) == listing

    real = crieur("enqueue", campaign, str(article), cwd=workdir)
    assert real.stdout.count("re-formatted in place") == 3


def test_slots_follow_the_schedule_in_the_campaign_zone(workdir: Path) -> None:
    campaign = "config/campaigns/example.yaml"
    assert crieur("enqueue", campaign, cwd=workdir).returncode == 0
    items = json.loads(crieur("queue", "list", "--json", "--campaign", "example", cwd=workdir).stdout)
    by_account: dict[str, list[str]] = {}
    for item in items:
        by_account.setdefault(item["account"], []).append(item["due_at"])
    for account, times in by_account.items():
        assert len(set(times)) == len(times), f"{account} has two threads in one slot"
        for when in times:
            assert when.endswith(("+01:00", "+02:00"))  # shown in Europe/Paris
            minute = when[14:16]
            expected = {"desk-dryrun-x": {"30", "00"}, "desk-dryrun-mastodon": {"32", "02"},
                        "desk-dryrun-bluesky": {"34", "04"}}[account]
            assert minute in expected


def test_at_time_that_does_not_exist_is_bad_input(workdir: Path) -> None:
    done = crieur("enqueue", "config/campaigns/example.yaml", "--at", "2026-03-29T02:30", cwd=workdir)
    assert done.returncode == 2
    assert "does not exist in Europe/Paris" in done.stderr
    assert not crieur("queue", "list", "--json", cwd=workdir).stdout.strip("[]\n ")


def test_queue_show_cancel_retry_reschedule(workdir: Path) -> None:
    article = "config/articles/en-harbour-wind-port.txt"
    out = crieur("enqueue", "config/campaigns/example.yaml", article, "--account", "desk-dryrun-x",
                 "--at", "2030-01-07T09:15", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "2030-01-07 09:15 CET" in out.stdout
    item_id = out.stdout.split()[0].lstrip("#")

    shown = crieur("queue", "show", item_id, cwd=workdir)
    assert shown.returncode == 0, shown.stderr
    assert "[1/" in shown.stdout and "pending" in shown.stdout
    data = json.loads(crieur("queue", "show", item_id, "--json", cwd=workdir).stdout)
    assert data["state"] == "scheduled" and data["due_at"] == "2030-01-07T09:15:00+01:00"
    assert all(post["text"] for post in data["posts"])

    moved = crieur("queue", "reschedule", item_id, "--at", "2030-07-01T10:00", cwd=workdir)
    assert moved.returncode == 0, moved.stderr
    assert "2030-07-01 10:00 CEST" in moved.stdout

    assert crieur("queue", "cancel", item_id, cwd=workdir).returncode == 0
    twice = crieur("queue", "cancel", item_id, cwd=workdir)
    assert twice.returncode == 2 and f"item {item_id} is already cancelled" in twice.stderr
    retry = crieur("queue", "retry", item_id, cwd=workdir)
    assert retry.returncode == 2 and "Traceback" not in retry.stderr
    missing = crieur("queue", "show", "999", cwd=workdir)
    assert missing.returncode == 2 and "no item 999" in missing.stderr

    listed = crieur("queue", "list", "--state", "cancelled", cwd=workdir)
    assert item_id in listed.stdout


def test_db_option_names_the_store(workdir: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.db"
    done = crieur("enqueue", "config/campaigns/example.yaml", "config/articles/de-radweg.txt",
                  "--db", str(other), cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert str(other) in done.stderr
    assert other.exists() and not (workdir / "queue" / "crieur.db").exists()


def test_check_says_exactly_what_the_real_run_does(workdir: Path) -> None:
    campaign = "config/campaigns/example.yaml"
    dry = crieur("enqueue", campaign, "--check", cwd=workdir)
    assert dry.returncode == 0, dry.stderr
    real = crieur("enqueue", campaign, cwd=workdir)
    assert real.returncode == 0, real.stderr
    assert dry.stdout.replace("would be queued", "queued") == real.stdout
    due = [line.rsplit(" for ", 1)[1] for line in real.stdout.splitlines() if "desk-dryrun-x" in line]
    assert len(set(due)) == len(due)  # each thread of one account on its own slot, in the preview too


def test_read_only_commands_do_not_create_a_store(workdir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "x.db"
    done = crieur("queue", "list", "--db", str(missing), cwd=workdir)
    assert done.returncode == 2 and "no queue store" in done.stderr
    assert not missing.parent.exists()


def test_threads_of_a_paused_account_say_why_they_wait(workdir: Path) -> None:
    from bot.store import open_store

    assert crieur("enqueue", "config/campaigns/example.yaml", "config/articles/de-radweg.txt",
                  cwd=workdir).returncode == 0
    store = open_store(str(workdir / "queue" / "crieur.db"))
    try:
        store.pause_account("desk-dryrun-x", None, "x refused the credentials of desk-dryrun-x")
    finally:
        store.close()
    listing = crieur("queue", "list", cwd=workdir)
    assert "desk-dryrun-x [account paused]" in listing.stdout
    assert "desk-dryrun-mastodon [account paused]" not in listing.stdout
    rows = json.loads(crieur("queue", "list", "--json", cwd=workdir).stdout)
    reasons = {row["account"]: row["account_paused"] for row in rows}
    assert reasons["desk-dryrun-x"] == "x refused the credentials of desk-dryrun-x"
    assert reasons["desk-dryrun-mastodon"] is None
    item = next(row["id"] for row in rows if row["account"] == "desk-dryrun-x")
    assert "paused until resumed" in crieur("queue", "show", str(item), cwd=workdir).stdout


def test_validate_without_files_checks_the_config_folder(workdir: Path, tmp_path: Path) -> None:
    done = crieur("validate", cwd=workdir)
    assert done.returncode == 0 and "3 campaign files OK" in done.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = crieur("validate", cwd=empty)
    assert nothing.returncode == 2 and "no campaign files" in nothing.stderr


def test_dry_run_means_the_dry_run_store_on_every_command(workdir: Path) -> None:
    """The README's quick start: `enqueue --dry-run … && run --dry-run --once`, then queue/status/accounts."""
    campaign = "config/campaigns/example.yaml"
    article = "config/articles/de-radweg.txt"
    queued = crieur("enqueue", campaign, article, "--at", "now", "--dry-run", cwd=workdir)
    assert queued.returncode == 0, queued.stderr
    assert "queue/dryrun.db" in queued.stderr and not (workdir / "queue" / "crieur.db").exists()
    listed = crieur("queue", "list", "--dry-run", cwd=workdir)
    assert listed.returncode == 0 and "desk-dryrun-x" in listed.stdout
    real = crieur("queue", "list", cwd=workdir)  # the default store was never created
    assert real.returncode == 2 and "add --dry-run" in real.stderr
    ran = crieur("run", "--dry-run", "--once", campaign, cwd=workdir)
    assert ran.returncode == 0, ran.stderr
    rows = json.loads(crieur("queue", "list", "--dry-run", "--json", cwd=workdir).stdout)
    assert {row["state"] for row in rows} == {"published"}
    assert crieur("accounts", "status", "--dry-run", cwd=workdir).stdout.strip() == "no paused accounts"


def test_cancel_and_reschedule_a_whole_article_and_refuse_odd_times(workdir: Path) -> None:
    article = "config/articles/en-harbour-wind-port.txt"
    out = crieur("enqueue", "config/campaigns/example.yaml", article, cwd=workdir)
    assert out.returncode == 0, out.stderr
    past = crieur("queue", "reschedule", "--article", article, "--at", "2020-01-06T09:00", cwd=workdir)
    assert past.returncode == 2 and "is in the past" in past.stderr and "--force" in past.stderr
    quiet = crieur("queue", "reschedule", "--article", article, "--at", "2030-01-07T23:30", cwd=workdir)
    assert quiet.returncode == 2 and "quiet hours (22:00-07:00)" in quiet.stderr
    forced = crieur("queue", "reschedule", "--article", article, "--at", "2030-01-07T23:30", "--force", cwd=workdir)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.count("rescheduled for 2030-01-07 23:30 CET") == 3
    cancelled = crieur("queue", "cancel", "--article", article, cwd=workdir)
    assert cancelled.returncode == 0 and cancelled.stdout.count(") cancelled") == 3
    rows = json.loads(crieur("queue", "list", "--json", cwd=workdir).stdout)
    assert {r["state"] for r in rows if r["source"].endswith("en-harbour-wind-port.txt")} == {"cancelled"}
    again = crieur("queue", "cancel", "--article", article, cwd=workdir)
    assert again.returncode == 2 and "no thread of it is waiting" in again.stderr
    neither = crieur("queue", "cancel", cwd=workdir)
    assert neither.returncode == 2 and "give an item ID or --article" in neither.stderr


def test_together_in_the_example_campaign_posts_one_article_at_one_time(workdir: Path) -> None:
    campaign = "config/campaigns/example.yaml"
    first = crieur("enqueue", campaign, "config/articles/de-radweg.txt", "--account", "desk-dryrun-x", cwd=workdir)
    assert first.returncode == 0, first.stderr
    out = crieur("enqueue", campaign, "config/articles/en-harbour-wind-port.txt", cwd=workdir)
    assert out.returncode == 0, out.stderr
    rows = json.loads(crieur("queue", "list", "--json", cwd=workdir).stdout)
    due = {r["account"]: r["due_at"] for r in rows if r["source"].endswith("en-harbour-wind-port.txt")}
    # desk-dryrun-x's first slot is taken: all three move to its next one (each at its offset).
    assert {when[:14] for when in due.values()} == {due["desk-dryrun-x"][:14]}
    assert (due["desk-dryrun-x"][14:16], due["desk-dryrun-mastodon"][14:16], due["desk-dryrun-bluesky"][14:16]) in (
        ("30", "32", "34"), ("00", "02", "04"))


def test_queue_list_header_columns_and_show_after_publishing(workdir: Path) -> None:
    campaign = "config/campaigns/example.yaml"
    queued = crieur("enqueue", campaign, "config/articles/de-radweg.txt", "--at", "now", "--dry-run", cwd=workdir)
    assert queued.returncode == 0 and " posts) for " in queued.stdout and "(1 posts)" not in queued.stdout
    listed = crieur("queue", "list", "--dry-run", cwd=workdir).stdout.splitlines()
    assert listed[0].split() == ["ID", "STATE", "DUE", "CAMPAIGN/ACCOUNT", "POSTS", "LANG", "TITLE"]
    state_col = listed[0].index("STATE")
    assert all(line[state_col:].startswith("scheduled") for line in listed[1:])
    assert all(" de " in line for line in listed[1:])
    assert crieur("run", "--dry-run", "--once", campaign, cwd=workdir).returncode == 0
    item = json.loads(crieur("queue", "list", "--dry-run", "--json", cwd=workdir).stdout)[0]
    assert item["state"] == "published" and item["next_attempt_at"] is None and item["lang"] == "de"
    shown = crieur("queue", "show", str(item["id"]), "--dry-run", cwd=workdir).stdout
    assert "next attempt" not in shown and "posted in: de" in shown


def test_one_post_is_not_posts(workdir: Path) -> None:
    short = workdir / "short.txt"
    short.write_text("The port reopened on Monday.\n", encoding="utf-8")
    done = crieur("enqueue", "config/campaigns/example.yaml", str(short), "--account", "desk-dryrun-x",
                  "--check", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "(1 post) for" in done.stdout


def test_an_empty_run_says_where_the_items_wait(workdir: Path) -> None:
    campaign = "config/campaigns/example.yaml"
    assert crieur("enqueue", campaign, "config/articles/de-radweg.txt", "--at", "now", cwd=workdir).returncode == 0
    ran = crieur("run", "--dry-run", "--once", campaign, cwd=workdir)
    assert ran.returncode == 0, ran.stderr
    assert "3 item(s) wait in" in ran.stderr and "queue/crieur.db: run without --dry-run" in ran.stderr


def test_media_and_alt_text_in_queue_show_and_the_dry_run_log(workdir: Path) -> None:
    import base64

    (workdir / "port.png").write_bytes(base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="))
    article = workdir / "port.txt"
    article.write_text("---\nmedia:\n  - path: port.png\n    alt: The port at dawn\n---\n"
                       "The port reopened on Monday after a week of repairs, the harbour master said.\n",
                       encoding="utf-8")
    campaign = "config/campaigns/example.yaml"
    queued = crieur("enqueue", campaign, str(article), "--account", "desk-dryrun-mastodon", "--at", "now",
                    "--dry-run", cwd=workdir)
    assert queued.returncode == 0, queued.stderr
    item_id = queued.stdout.split()[0].lstrip("#")
    shown = crieur("queue", "show", item_id, "--dry-run", cwd=workdir)
    assert "media: port.png (alt: The port at dawn)" in shown.stdout
    data = json.loads(crieur("queue", "show", item_id, "--dry-run", "--json", cwd=workdir).stdout)
    assert data["media"][0]["alt"] == "The port at dawn"
    ran = crieur("run", "--dry-run", "--once", campaign, cwd=workdir)
    assert ran.returncode == 0, ran.stderr
    assert "[media port.png (alt: The port at dawn)]" in ran.stderr
