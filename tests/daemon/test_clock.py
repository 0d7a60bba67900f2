"""The daemon under a controlled clock: missed slots within grace go out late, older ones are re-slotted."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.campaign import load_campaigns
from bot.publisher import AdapterPool
from bot.scheduler import Daemon
from bot.store import ItemState, NewItem, open_store

T0 = datetime(2030, 1, 2, 12, 0, tzinfo=timezone.utc)  # the daemon starts at noon, long after "now"

CAMPAIGN = """\
name: clocked
timezone: UTC
accounts:
  desk:
    platform: dryrun
    as: mastodon
schedule:
  slots: ["0 9 * * *"]
  spacing: 0s
grace: 1h
"""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_grace_decides_between_late_and_reslotted(tmp_path: Path) -> None:
    campaign = tmp_path / "clocked.yaml"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    store = open_store(str(tmp_path / "q.db"))
    ids = {}
    for name, missed_by in (("late", timedelta(minutes=30)), ("stale", timedelta(hours=2)),
                            ("future", -timedelta(hours=3))):
        outcome = store.enqueue(
            NewItem(campaign="clocked", account="desk", platform="dryrun", source=name, content_hash=name,
                    title=name, posts=[f"{name} one", f"{name} two"]),
            at=T0 - missed_by, now=T0 - timedelta(days=1),
        )
        ids[name] = outcome.item.id
    clock = Clock(T0)
    pool = AdapterPool(dry_run=True, dryrun_path=tmp_path / "dryrun.jsonl")
    daemon = Daemon(store, lambda: load_campaigns([campaign]), pool=pool, clock=clock)
    try:
        summary = daemon.startup_summary()
        assert summary == ("found 1 due (1 late, within grace), 1 re-slotted (missed by more than grace), "
                           "0 in doubt")
        # Missed by more than grace: moved to the next free slot (09:00 tomorrow), not posted now.
        assert store.get_item(ids["stale"]).due_at == datetime(2030, 1, 3, 9, 0, tzinfo=timezone.utc)

        assert daemon.run_once() == 0
        states = {name: store.get_item(i).state for name, i in ids.items()}
        assert states == {"late": ItemState.PUBLISHED, "stale": ItemState.SCHEDULED, "future": ItemState.SCHEDULED}

        # Time passes without any real waiting: each item goes out once its time has come.
        clock.now = T0 + timedelta(hours=3)
        again = Daemon(store, lambda: load_campaigns([campaign]), pool=pool, clock=clock)
        assert again.startup_summary().startswith("found 1 due (0 late")
        assert again.run_once() == 0
        assert store.get_item(ids["future"]).state == ItemState.PUBLISHED
        assert store.get_item(ids["stale"]).state == ItemState.SCHEDULED

        clock.now = datetime(2030, 1, 3, 9, 0, 5, tzinfo=timezone.utc)
        last = Daemon(store, lambda: load_campaigns([campaign]), pool=pool, clock=clock)
        assert last.run_once() == 0
        assert store.get_item(ids["stale"]).state == ItemState.PUBLISHED
    finally:
        pool.close()
        store.close()


def test_history_older_than_keep_is_pruned(tmp_path: Path) -> None:
    campaign = tmp_path / "clocked.yaml"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    store = open_store(str(tmp_path / "q.db"))
    item = store.enqueue(
        NewItem(campaign="clocked", account="desk", platform="dryrun", source="a", content_hash="a",
                title="a", posts=["one"]),
        at=T0, now=T0 - timedelta(days=1),
    ).item
    store.record_attempt(item.id, "note", "old", now=T0 - timedelta(days=100))
    store.record_attempt(item.id, "note", "recent", now=T0 - timedelta(days=1))
    pool = AdapterPool(dry_run=True, dryrun_path=tmp_path / "dryrun.jsonl")
    daemon = Daemon(store, lambda: load_campaigns([campaign]), pool=pool, clock=Clock(T0),
                    keep_history=timedelta(days=90))
    try:
        assert daemon.prune_history() == 1
        assert [a.message for a in store.attempts(item.id)] == ["recent"]
    finally:
        pool.close()
        store.close()


def test_folder_inbox_is_polled_enqueued_and_published(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    campaign = tmp_path / "inbox.yaml"
    campaign.write_text(CAMPAIGN.replace("grace: 1h\n", "grace: 1h\nsources:\n  folder: inbox/\n"), encoding="utf-8")
    store = open_store(str(tmp_path / "q.db"))
    clock = Clock(T0)
    pool = AdapterPool(dry_run=True, dryrun_path=tmp_path / "dryrun.jsonl")
    daemon = Daemon(store, lambda: load_campaigns([campaign]), pool=pool, clock=clock)
    try:
        article = inbox / "flash.txt"
        article.write_text("A short flash from the desk.\n#Desk\nKeywords: desk\n", encoding="utf-8")
        settled = (T0 - timedelta(minutes=5)).timestamp()
        os.utime(article, (settled, settled))
        (inbox / ".hidden.txt").write_text("not an article\n", encoding="utf-8")

        daemon.poll_sources("clocked")  # first sight: size and mtime noted, not taken yet
        assert store.list_items() == []
        daemon.poll_sources("clocked")  # unchanged since: settled, enqueued on the next slot
        [item] = store.list_items()
        assert item.due_at == datetime(2030, 1, 3, 9, 0, tzinfo=timezone.utc)
        daemon.poll_sources("clocked")  # remembered: not queued twice
        assert len(store.list_items()) == 1

        clock.now = item.due_at + timedelta(seconds=1)
        daemon.publish_due()
        assert daemon.wait_idle(timeout=30)
        assert store.get_item(item.id).state == ItemState.PUBLISHED
    finally:
        pool.close()
        store.close()


def test_once_fails_loudly_when_due_items_wait_for_a_paused_account(tmp_path: Path) -> None:
    campaign = tmp_path / "clocked.yaml"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    store = open_store(str(tmp_path / "q.db"))
    store.enqueue(NewItem(campaign="clocked", account="desk", platform="dryrun", source="a", content_hash="a",
                          title="a", posts=["one"]), at=T0 - timedelta(minutes=1), now=T0 - timedelta(days=1))
    store.pause_account("desk", None, "mastodon refused the credentials", now=T0 - timedelta(hours=1))
    pool = AdapterPool(dry_run=True, dryrun_path=tmp_path / "dryrun.jsonl")
    daemon = Daemon(store, lambda: load_campaigns([campaign]), pool=pool, clock=Clock(T0))
    try:
        assert daemon.run_once() == 1
        assert [i.state for i in store.list_items()] == [ItemState.SCHEDULED]  # kept, not lost
    finally:
        pool.close()
        store.close()
