"""The daemon's polling of `files:` sources: new files are picked up; a cancel and an
`enqueue --account` choice survive every polling cycle."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.campaign import load_campaigns
from bot.publisher import AdapterPool
from bot.scheduler import Daemon
from bot.store import ItemState, open_store

T0 = datetime(2030, 1, 2, 12, 0, tzinfo=timezone.utc)

CAMPAIGN = """\
name: polled
timezone: UTC
accounts:
  a1:
    platform: dryrun
    as: mastodon
  a2:
    platform: dryrun
    as: mastodon
schedule:
  slots: ["0 9 * * *"]
  spacing: 0s
sources:
  files: ["articles/*.txt"]
"""


def _article(path: Path, words: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{words}. A short piece from the desk.\n", encoding="utf-8")
    return path


def _daemon(tmp_path: Path, store) -> tuple[Daemon, AdapterPool]:  # noqa: ANN001
    pool = AdapterPool(dry_run=True, dryrun_path=tmp_path / "dryrun.jsonl")
    return Daemon(store, lambda: load_campaigns([tmp_path / "polled.yaml"]), pool=pool, clock=lambda: T0), pool


def test_a_cancel_survives_a_polling_cycle(tmp_path: Path) -> None:
    (tmp_path / "polled.yaml").write_text(CAMPAIGN, encoding="utf-8")
    _article(tmp_path / "articles" / "one.txt", "One")
    store = open_store(str(tmp_path / "q.db"))
    daemon, pool = _daemon(tmp_path, store)
    try:
        daemon.poll_sources("polled")
        queued = store.list_items()
        assert {i.account for i in queued} == {"a1", "a2"}
        cancelled = store.cancel(queued[0].id)
        daemon.poll_sources("polled")
        daemon.poll_sources("polled")
        after = store.list_items()
        assert len(after) == 2, "polling queued the cancelled article again"
        assert store.get_item(cancelled.id).state == ItemState.CANCELLED
        # A new file matching the glob is picked up.
        _article(tmp_path / "articles" / "two.txt", "Two")
        daemon.poll_sources("polled")
        assert len(store.list_items()) == 4
    finally:
        pool.close()
        store.close()


def test_polling_respects_the_accounts_chosen_at_enqueue(tmp_path: Path) -> None:
    (tmp_path / "polled.yaml").write_text(CAMPAIGN, encoding="utf-8")
    article = _article(tmp_path / "articles" / "one.txt", "One")
    db = tmp_path / "q.db"
    done = subprocess.run([sys.executable, "-m", "bot", "enqueue", str(tmp_path / "polled.yaml"), "--account", "a1",
                           str(article), "--db", str(db)], capture_output=True, text=True, cwd=tmp_path,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    store = open_store(str(db))
    daemon, pool = _daemon(tmp_path, store)
    try:
        daemon.poll_sources("polled")
        assert [i.account for i in store.list_items()] == ["a1"]
    finally:
        pool.close()
        store.close()


def test_enqueue_force_brings_a_cancelled_article_back(tmp_path: Path) -> None:
    (tmp_path / "polled.yaml").write_text(CAMPAIGN, encoding="utf-8")
    article = _article(tmp_path / "articles" / "one.txt", "One")
    db = tmp_path / "q.db"

    def enqueue(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "enqueue", str(tmp_path / "polled.yaml"), "--account",
                               "a1", str(article), "--db", str(db), *extra], capture_output=True, text=True,
                              cwd=tmp_path, stdin=subprocess.DEVNULL)

    assert enqueue().returncode == 0
    store = open_store(str(db))
    try:
        [item] = store.list_items()
        store.cancel(item.id)
        again = enqueue()
        assert again.returncode == 0 and "cancelled earlier, not queued again" in again.stdout
        forced = enqueue("--force")
        assert forced.returncode == 0 and "queued" in forced.stdout
        assert sorted(i.state for i in store.list_items()) == [ItemState.CANCELLED, ItemState.SCHEDULED]
    finally:
        store.close()
