"""Live server limits: read from the fake servers over HTTP, kept with a time to live, resolved
against the campaign's own settings; and the commands and the daemon that use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.live_limits import CACHE_FILE, LiveLimits, ServerUnreachable, resolve  # noqa: E402
from bot.platforms.mastodon_server import server_limits  # noqa: E402
from bot.store import ItemState, open_store  # noqa: E402
from tests.fakes.fake_mastodon import FakeMastodon  # noqa: E402

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)


def _account(url: str, **settings: object) -> SimpleNamespace:
    return SimpleNamespace(name="desk-m", platform="mastodon", profile="mastodon",
                           settings={"instance": url, **settings})


@pytest.fixture(params=["mastodon", "hollo", "gotosocial", "akkoma"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeMastodon]:
    with FakeMastodon(flavour=request.param) as fake:
        yield fake


def _instance_reads(fake: FakeMastodon) -> int:
    return sum(1 for method, path in fake.requests if method == "GET" and "/instance" in path)


def test_each_server_states_its_own_limits(server: FakeMastodon) -> None:
    stated = server_limits({"instance": server.url}, timeout=10)
    expected = {  # (limit, url_length, counting, software starts with)
        "mastodon": (500, 23, "mastodon", "Mastodon"),
        "hollo": (10_000, 256, "mastodon", "Hollo"),
        "gotosocial": (5000, 25, "code_points", "GoToSocial"),
        "akkoma": (5000, None, "graphemes", "Akkoma"),
    }[server.flavour]
    assert (stated.limit, stated.url_length, stated.counting) == expected[:3]
    assert stated.software.startswith(expected[3])
    assert stated.markdown is (server.flavour == "hollo")
    # Akkoma has no /api/v2/instance: its v1 answers. Hollo's "0" (unset) media fall back.
    assert stated.source.endswith("/api/v1/instance" if server.flavour == "akkoma" else "/api/v2/instance")
    assert stated.media is not None and stated.media.count >= 4 and stated.media.max_bytes > 0


def test_an_unreachable_server_is_said_in_one_line() -> None:
    fake = FakeMastodon().start()
    url = fake.url
    fake.stop()
    with pytest.raises(ServerUnreachable, match=r"cannot read http://127\.0\.0\.1:\d+/api/v2/instance"):
        server_limits({"instance": url}, timeout=5)


def test_kept_for_an_hour_then_read_again_and_shared_through_the_state_directory(tmp_path: Path) -> None:
    clock = [NOW]
    with FakeMastodon(flavour="hollo") as fake:
        account = _account(fake.url)
        limits = LiveLimits(tmp_path, clock=lambda: clock[0])
        assert limits.for_account(account).limit == 10_000
        assert _instance_reads(fake) == 1
        clock[0] = NOW + timedelta(minutes=59)
        assert limits.for_account(account).limit == 10_000 and _instance_reads(fake) == 1
        # Another process (a new LiveLimits) finds them in the file: no request.
        other = LiveLimits(tmp_path, clock=lambda: clock[0])
        assert other.for_account(account).limit == 10_000 and _instance_reads(fake) == 1
        assert json.loads((tmp_path / CACHE_FILE).read_text())  # kept as JSON beside the sessions
        fake.max_characters = 7000
        clock[0] = NOW + timedelta(minutes=61)
        assert other.for_account(account).limit == 7000 and _instance_reads(fake) == 2
        # Before publishing: only what this process read itself, at most RECHECK old.
        fresh = LiveLimits(tmp_path, clock=lambda: clock[0])
        fake.max_characters = 6000
        assert fresh.for_account(account, max_age=timedelta(minutes=5), shared=False).limit == 6000


def test_the_campaigns_explicit_limit_wins_and_a_flag_wins_over_both(tmp_path: Path) -> None:
    with FakeMastodon(flavour="hollo") as fake:
        limits = LiveLimits(tmp_path)
        stated = limits.resolve(_account(fake.url))
        assert stated.overrides == {"limit": 10_000, "url_length": 256}
        assert "server: limit 10000, 256 per URL" in stated.note and "(Hollo 0.6.0)" in stated.note
        explicit = limits.resolve(_account(fake.url, limit=500))
        assert explicit.overrides == {"limit": 500, "url_length": 256}
        assert "limit 500 from the campaign (it wins over the server's 10000)" in explicit.note
        flagged = limits.resolve(_account(fake.url, limit=500), limit_flag=800)
        assert flagged.overrides["limit"] == 800


def test_an_unreachable_server_leaves_the_configured_limits_with_a_warning(tmp_path: Path) -> None:
    fake = FakeMastodon().start()
    url = fake.url
    fake.stop()
    warned: list[str] = []
    resolved = LiveLimits(tmp_path, warn=warned.append, timeout=5).resolve(_account(url))
    assert resolved.overrides == {} and resolved.server is None
    assert warned and warned[0].startswith("account desk-m: cannot read") and "configured" in resolved.note


def test_platforms_that_state_nothing_are_not_asked(tmp_path: Path) -> None:
    account = SimpleNamespace(name="x1", platform="x", profile="x", settings={"limit": 4000})
    assert LiveLimits(tmp_path).for_account(account) is None
    assert resolve(account, None).overrides == {"limit": 4000}


# --- the commands and the daemon -----------------------------------------------------------------


def _crieur(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if k not in ("CRIEUR_DB", "CRIEUR_STATE_DIR")}
    child.update(env)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=child, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


def _campaign(tmp_path: Path, fake_url: str, extra: str = "") -> Path:
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(
        f"name: live\ntimezone: UTC\nlang: en\naccounts:\n  desk-m:\n    platform: mastodon\n"
        f"    instance: {fake_url}\n    access_token: ${{DESK_TOKEN}}\n{extra}"
        "schedule:\n  slots: ['0 9 * * *']\n  spacing: 10ms\n", encoding="utf-8")
    return campaign


def _article(tmp_path: Path, sentences: int = 60) -> Path:
    body = " ".join(f"Sentence {n} tells the readers what the harbour council decided today." for n in range(sentences))
    path = tmp_path / "story.txt"
    path.write_text(f"---\ntitle: Harbour\nlang: en\n---\n{body}\n", encoding="utf-8")
    return path


def test_enqueue_and_preview_use_the_servers_limit(tmp_path: Path) -> None:
    with FakeMastodon(flavour="hollo") as fake:
        campaign, article = _campaign(tmp_path, fake.url), _article(tmp_path)
        env = {"DESK_TOKEN": fake.access_token}
        shown = _crieur("preview", str(article), "--campaign", str(campaign), "--account", "desk-m", cwd=tmp_path,
                        env=env)
        assert shown.returncode == 0, shown.stderr
        header = shown.stdout.splitlines()[:2]
        assert header[0].startswith("── desk-m (mastodon) · 1 post · limit 10000")
        assert "server: limit 10000, 256 per URL" in header[1] and "/api/v2/instance (Hollo" in header[1]
        db = tmp_path / "queue" / "crieur.db"
        queued = _crieur("enqueue", str(campaign), str(article), "--db", str(db), cwd=tmp_path, env=env)
        assert queued.returncode == 0, queued.stderr
        assert "(1 post)" in queued.stdout
        store = open_store(str(db))
        try:
            [item] = store.list_items()
        finally:
            store.close()
        assert item.options["limit"] == 10_000 and item.options["url_length"] == 256
        assert (tmp_path / "queue" / "sessions" / CACHE_FILE).is_file()
        # The campaign's explicit limit wins.
        limited = _campaign(tmp_path, fake.url, "    limit: 500\n")
        shown = _crieur("preview", str(article), "--campaign", str(limited), "--account", "desk-m", "--json",
                        cwd=tmp_path, env=env)
        [thread] = json.loads(shown.stdout)["threads"]
        assert thread["limit"] == 500 and len(thread["posts"]) > 1
        assert "from the campaign" in thread["notes"][0]


def test_an_unreachable_server_warns_and_enqueues_with_the_configured_limit(tmp_path: Path) -> None:
    fake = FakeMastodon(flavour="hollo").start()
    url, token = fake.url, fake.access_token
    fake.stop()
    campaign, article = _campaign(tmp_path, url), _article(tmp_path)
    queued = _crieur("enqueue", str(campaign), str(article), "--db", str(tmp_path / "q.db"), cwd=tmp_path,
                     env={"DESK_TOKEN": token})
    assert queued.returncode == 0, queued.stderr
    assert "warning: account desk-m: cannot read" in queued.stderr and "configured limits are used" in queued.stderr
    assert "Traceback" not in queued.stderr
    store = open_store(str(tmp_path / "q.db"))
    try:
        [item] = store.list_items()
    finally:
        store.close()
    assert item.options["limit"] == 500 and len(item.posts) > 1


def test_a_thread_that_no_longer_fits_goes_to_review_not_out(tmp_path: Path) -> None:
    with FakeMastodon(flavour="hollo") as fake:
        campaign, article = _campaign(tmp_path, fake.url), _article(tmp_path)
        env = {"DESK_TOKEN": fake.access_token}
        db = tmp_path / "q.db"
        now = datetime.now(timezone.utc).isoformat()
        queued = _crieur("enqueue", str(campaign), str(article), "--at", now, "--db", str(db), cwd=tmp_path, env=env)
        assert queued.returncode == 0, queued.stderr
        fake.max_characters = 1000  # the instance lowered its limit since
        done = _crieur("run", "--once", str(campaign), "--db", str(db), cwd=tmp_path, env=env)
        assert done.returncode == 1, done.stderr
        assert fake.posts() == []
        store = open_store(str(db))
        try:
            [item] = store.list_items()
            attempts = store.attempts(item.id)
        finally:
            store.close()
        assert item.state == ItemState.NEEDS_REVIEW
        reason = attempts[-1].message
        assert "post 1 is" in reason and "the server now allows 1000" in reason and "formatted for 10000" in reason


def test_goto_social_counts_urls_in_full(tmp_path: Path) -> None:
    with FakeMastodon(flavour="gotosocial", max_characters=300) as fake:
        link = "https://example.org/" + "a" * 200
        body = " ".join(f"Sentence {n} about the port, see {link} for the figures." for n in range(6))
        article = tmp_path / "links.txt"
        article.write_text(f"---\ntitle: Links\nlang: en\n---\n{body}\n", encoding="utf-8")
        campaign = _campaign(tmp_path, fake.url)
        env = {"DESK_TOKEN": fake.access_token}
        shown = _crieur("preview", str(article), "--campaign", str(campaign), "--account", "desk-m", "--json",
                        cwd=tmp_path, env=env)
        assert shown.returncode == 0, shown.stderr
        [thread] = json.loads(shown.stdout)["threads"]
        assert all(len(p["text"]) <= 300 for p in thread["posts"])  # code points, the link in full
        assert any("code points as written" in n for n in thread["notes"])
        db = tmp_path / "q.db"
        now = datetime.now(timezone.utc).isoformat()
        assert _crieur("enqueue", str(campaign), str(article), "--at", now, "--db", str(db), cwd=tmp_path,
                       env=env).returncode == 0
        done = _crieur("run", "--once", str(campaign), "--db", str(db), cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert len(fake.posts()) == len(thread["posts"])  # every post accepted by the server's own count


@pytest.mark.parametrize("flavour", ["hollo", "mastodon"])
def test_preview_warns_where_a_markdown_server_would_not_show_the_text_as_written(tmp_path: Path,
                                                                                    flavour: str) -> None:
    with FakeMastodon(flavour=flavour) as fake:
        campaign = _campaign(tmp_path, fake.url)
        article = tmp_path / "md.txt"
        article.write_text("---\ntitle: Budget\nlang: fr\n---\nLe vote est *important* pour la ville. "
                           "Le budget passe à 5 * 3 millions.\n", encoding="utf-8")
        env = {"DESK_TOKEN": fake.access_token}
        shown = _crieur("preview", str(article), "--campaign", str(campaign), "--account", "desk-m", cwd=tmp_path,
                        env=env)
        assert shown.returncode == 0, shown.stderr
        as_json = _crieur("preview", str(article), "--campaign", str(campaign), "--account", "desk-m", "--json",
                          cwd=tmp_path, env=env)
        [thread] = json.loads(as_json.stdout)["threads"]
    if flavour == "hollo":
        assert "! Hollo 0.6.0 renders Markdown, so this post will not read as written: italic" in shown.stdout
        assert '"*important*"' in shown.stdout and "5 * 3" not in shown.stdout.split("! Hollo")[1]
        assert thread["markdown_warnings"] and thread["markdown_warnings"][0]["post"] == 1
    else:
        assert "renders Markdown" not in shown.stdout and thread["markdown_warnings"] == []


def test_a_damaged_cache_file_is_read_again_from_the_server(tmp_path: Path) -> None:
    with FakeMastodon(flavour="hollo") as fake:
        for damaged in ("[]", "{\"x\": 3}", "not json", json.dumps({"k": {"fetched_at": "2026-12-04T09:00:00"}})):
            (tmp_path / CACHE_FILE).write_text(damaged)
            assert LiveLimits(tmp_path).for_account(_account(fake.url)).limit == 10_000


def test_an_unreachable_server_is_asked_once_per_recheck_and_warned_once(tmp_path: Path) -> None:
    fake = FakeMastodon().start()
    url = fake.url
    fake.stop()
    warned: list[str] = []
    limits = LiveLimits(tmp_path, warn=warned.append, timeout=5)
    assert [limits.for_account(_account(url)) for _ in range(3)] == [None, None, None]
    assert len(warned) == 1


def test_a_plugins_failing_reader_is_a_warning_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from bot.platforms import builtin

    broken = dataclasses.replace(builtin.MASTODON, server_limits="bot.platforms.mastodon_server:no_such_function")
    monkeypatch.setitem(builtin.BUILTIN, "mastodon", broken)
    warned: list[str] = []
    assert LiveLimits(tmp_path, warn=warned.append).for_account(_account("http://127.0.0.1:9")) is None
    assert warned and "cannot read its limits" in warned[0]
