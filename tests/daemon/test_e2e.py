"""`crieur enqueue` then `crieur run` as real processes against the fake Mastodon and X servers."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from daemon_helpers import article, check_threads, crieur

from bot.store import ItemState, PostState, open_store


def _setup(tmp_path: Path, platforms, *, spacing: str = "10ms", **accounts: str):  # noqa: ANN001, ANN202
    fakes = platforms(**(accounts or {"masto": "mastodon", "xacct": "x"}))
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(fakes.campaign_yaml(spacing=spacing), encoding="utf-8")
    return fakes, campaign


def _enqueue(campaign: Path, path: Path, at: datetime, db: Path, env: dict[str, str]) -> None:
    done = crieur("enqueue", str(campaign), str(path), "--at", at.isoformat(), "--db", str(db),
                  cwd=campaign.parent, env=env)
    assert done.returncode == 0, done.stderr


def _items(db: str) -> list:
    store = open_store(db)
    try:
        return store.list_items()
    finally:
        store.close()


def test_enqueue_then_run_once_posts_whole_threads_in_slot_order(tmp_path: Path, platforms) -> None:
    fakes, campaign = _setup(tmp_path, platforms)
    db = tmp_path / "queue" / "crieur.db"
    now = datetime.now(timezone.utc)
    # Enqueued in one order, due in another: the daemon must follow the slots, not the queue order.
    order = {"beta": now - timedelta(minutes=3), "gamma": now - timedelta(minutes=2), "alpha": now}
    for name in ("alpha", "beta", "gamma"):
        _enqueue(campaign, article(tmp_path / f"{name}.txt", f"{name} story", paragraphs=5), order[name], db,
                 fakes.env)

    started = time.monotonic()
    done = crieur("run", "--once", str(campaign), "--db", str(db), cwd=tmp_path, env=fakes.env)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20
    assert "Traceback" not in done.stderr
    assert "found 6 due" in done.stderr

    items = check_threads(str(db), fakes.servers)
    assert {i.state for i in items} == {ItemState.PUBLISHED}
    for account, server in fakes.servers.items():
        threads = sorted((i for i in items if i.account == account), key=lambda i: i.due_at)
        assert [Path(i.source).stem for i in threads] == ["beta", "gamma", "alpha"]
        assert all(len(i.posts) >= 2 for i in threads), "each article should make a real thread"
        # Whole threads, one after another, in due order: the server's sequence is their concatenation.
        assert [p.text for p in server.posts()] == [p.text for i in threads for p in i.posts]


def test_once_exits_1_when_an_item_needs_review(tmp_path: Path, platforms) -> None:
    fakes, campaign = _setup(tmp_path, platforms)
    db = tmp_path / "q.db"
    _enqueue(campaign, article(tmp_path / "one.txt", "one story", paragraphs=3), datetime.now(timezone.utc), db,
             fakes.env)
    fakes.servers["xacct"].fail_next("duplicate")

    done = crieur("run", "--once", str(campaign), "--db", str(db), cwd=tmp_path, env=fakes.env)
    assert done.returncode == 1, done.stderr
    assert "needs review" in done.stderr and "Traceback" not in done.stderr
    states = {i.account: i.state for i in _items(str(db))}
    assert states == {"masto": ItemState.PUBLISHED, "xacct": ItemState.NEEDS_REVIEW}
    assert fakes.servers["xacct"].posts() == []


def test_dry_run_once_uses_its_own_store_and_never_marks_the_real_one(tmp_path: Path, platforms) -> None:
    fakes, campaign = _setup(tmp_path, platforms)
    (tmp_path / "queue").mkdir()
    story = article(tmp_path / "dry.txt", "dry story", paragraphs=3)
    now = datetime.now(timezone.utc)
    real, dry = tmp_path / "queue" / "crieur.db", tmp_path / "queue" / "dryrun.db"
    _enqueue(campaign, story, now, real, fakes.env)
    _enqueue(campaign, story, now, dry, fakes.env)

    done = crieur("run", "--dry-run", "--once", str(campaign), cwd=tmp_path, env={})  # no credentials needed
    assert done.returncode == 0, done.stderr
    assert str(dry) in done.stderr
    assert {i.state for i in _items(str(dry))} == {ItemState.PUBLISHED}
    assert {i.state for i in _items(str(real))} == {ItemState.SCHEDULED}
    assert all(p.state == PostState.PENDING for i in _items(str(real)) for p in i.posts)
    assert all(not server.posts() for server in fakes.servers.values())
    logged = (tmp_path / "queue" / "dryrun.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(logged) == sum(len(i.posts) for i in _items(str(dry)))


def _running(tmp_path: Path, platforms, daemons, *, threads: int, spacing: str):  # noqa: ANN001, ANN202
    """A daemon serving a campaign with `threads` due articles per account, started and publishing."""
    fakes, campaign = _setup(tmp_path, platforms, spacing=spacing)
    db = tmp_path / "q.db"
    now = datetime.now(timezone.utc)
    for n in range(threads):
        _enqueue(campaign, article(tmp_path / f"s{n}.txt", f"s{n} story", paragraphs=4), now, db, fakes.env)
    daemon = daemons(str(campaign), "--db", str(db), cwd=tmp_path, env=fakes.env, log=tmp_path / "daemon.log")
    daemon.wait_for_output("posted 1/")
    return fakes, campaign, db, daemon


def _settled(db: Path, fakes) -> None:  # noqa: ANN001
    """Nothing held, nothing in doubt, and the servers hold exactly what the store recorded."""
    items = _items(str(db))
    assert all(i.state != ItemState.PUBLISHING and i.lease_holder is None for i in items)
    assert all(p.state != PostState.UNKNOWN for i in items for p in i.posts)
    for account, server in fakes.servers.items():
        recorded = {p.remote_id for i in items if i.account == account for p in i.posts if p.state == PostState.POSTED}
        assert {p.id for p in server.posts()} == recorded


def test_sigterm_finishes_the_post_in_flight_and_exits_0(tmp_path: Path, platforms, daemons) -> None:
    fakes, _, db, daemon = _running(tmp_path, platforms, daemons, threads=2, spacing="300ms")
    daemon.signal(signal.SIGTERM)
    started = time.monotonic()
    assert daemon.wait(timeout=10) == 0, daemon.output()
    assert time.monotonic() - started < 5
    assert "stopping (SIGTERM)" in daemon.output() and "Traceback" not in daemon.output()
    _settled(db, fakes)
    assert any(p.state == PostState.PENDING for i in _items(str(db)) for p in i.posts), "stopped mid-run"


def test_sigint_exits_130(tmp_path: Path, platforms, daemons) -> None:
    fakes, _, db, daemon = _running(tmp_path, platforms, daemons, threads=1, spacing="300ms")
    daemon.signal(signal.SIGINT)
    assert daemon.wait(timeout=10) == 130, daemon.output()
    _settled(db, fakes)


def test_sighup_with_a_broken_campaign_keeps_the_old_one(tmp_path: Path, platforms, daemons) -> None:
    fakes, campaign = _setup(tmp_path, platforms, spacing="10ms")
    db = tmp_path / "q.db"
    daemon = daemons(str(campaign), "--db", str(db), cwd=tmp_path, env=fakes.env, log=tmp_path / "daemon.log")
    daemon.wait_for_output("found 0 due")
    good = campaign.read_text(encoding="utf-8")
    campaign.write_text(good.replace("spacing: 10ms", "spacing: soon"), encoding="utf-8")
    daemon.signal(signal.SIGHUP)
    daemon.wait_for_output("reload failed, keeping the campaigns already loaded")
    assert "campaign.yaml" in daemon.output()
    time.sleep(0.3)
    assert daemon.proc.poll() is None, daemon.output()
    campaign.write_text(good, encoding="utf-8")
    daemon.signal(signal.SIGHUP)
    daemon.wait_for_output("reloaded 1 campaign(s)")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0, daemon.output()


def test_one_daemon_per_sqlite_store_and_a_restart_after_sigkill_takes_over_at_once(
    tmp_path: Path, platforms, daemons
) -> None:
    fakes, campaign, db, first = _running(tmp_path, platforms, daemons, threads=2, spacing="1s")
    second = crieur("run", "--once", str(campaign), "--db", str(db), cwd=tmp_path, env=fakes.env)
    assert second.returncode == 1
    assert "already serving" in second.stderr and "one daemon per SQLite store" in second.stderr
    assert "Traceback" not in second.stderr

    first.kill()  # mid-thread: its items stay `publishing` under its 30 s lease
    assert any(i.state == ItemState.PUBLISHING for i in _items(str(db)))
    started = time.monotonic()
    again = crieur("run", "--once", str(campaign), "--db", str(db), cwd=tmp_path, env=fakes.env)
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 15  # not after the dead daemon's lease
    assert "took over" in again.stderr
    items = check_threads(str(db), fakes.servers)
    assert {i.state for i in items} == {ItemState.PUBLISHED}
