"""Publishing workers follow the number of accounts due (`--workers N` caps them), and a thread with
no spacing goes out with one commit per post, each remote id stored before the next post."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.adapters.dryrun import DryRunAdapter
from bot.campaign import load_campaigns
from bot.publisher import AdapterPool
from bot.scheduler import Daemon
from bot.store import ItemState, NewItem, PostState, open_store

ACCOUNTS = 12


def campaign_file(tmp_path: Path) -> Path:
    path = tmp_path / "many.yaml"
    accounts = "".join(f"  acct{n}:\n    platform: dryrun\n    as: mastodon\n" for n in range(ACCOUNTS))
    path.write_text(f"name: many\ntimezone: UTC\naccounts:\n{accounts}schedule:\n  slots: ['0 9 * * *']\n"
                    "  spacing: 0s\n", encoding="utf-8")
    return path


class Gate:
    """Counts the publish calls in flight; `barrier` makes each first post wait for all accounts' first posts."""

    def __init__(self, parties: int | None) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.barrier = threading.Barrier(parties) if parties else None


def pool_with(gate: Gate, tmp_path: Path) -> AdapterPool:
    pool = AdapterPool(dry_run=True, dryrun_path=tmp_path / "dryrun.jsonl")
    original = DryRunAdapter.publish

    def publish(adapter: DryRunAdapter, post, reply_to=None):  # type: ignore[no-untyped-def]
        with gate.lock:
            gate.now += 1
            gate.most = max(gate.most, gate.now)
        try:
            if gate.barrier is not None and reply_to is None:
                gate.barrier.wait(timeout=120)  # broken (an error) unless every account posts at once
            return original(adapter, post, reply_to)
        finally:
            with gate.lock:
                gate.now -= 1

    pool.wrap = lambda adapter, account: _Patched(adapter, publish)
    return pool


class _Patched:
    def __init__(self, adapter: DryRunAdapter, publish) -> None:  # type: ignore[no-untyped-def]
        self._adapter, self._publish = adapter, publish

    def publish(self, post, reply_to=None):  # type: ignore[no-untyped-def]
        return self._publish(self._adapter, post, reply_to)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._adapter, name)


def fill(store, now: datetime) -> None:  # type: ignore[no-untyped-def]
    for n in range(ACCOUNTS):
        store.enqueue(NewItem(campaign="many", account=f"acct{n}", platform="dryrun", source=f"a{n}",
                              content_hash=f"h{n}", title=f"t{n}", posts=[f"post {i} of a{n}" for i in range(1, 6)]),
                      at=now - timedelta(seconds=1), now=now)


def test_every_account_due_publishes_at_the_same_time(tmp_path: Path) -> None:
    campaign = campaign_file(tmp_path)
    store = open_store(str(tmp_path / "q.db"))
    fill(store, datetime.now(timezone.utc))
    gate = Gate(ACCOUNTS)  # more than the former fixed 8 workers
    daemon = Daemon(store, lambda: load_campaigns([campaign]), pool=pool_with(gate, tmp_path))
    try:
        assert daemon.run_once() == 0
    finally:
        store.close()
    assert gate.most == ACCOUNTS and not gate.barrier.broken  # type: ignore[union-attr]
    assert len(daemon.report.published) == ACCOUNTS


def test_workers_option_caps_them(tmp_path: Path) -> None:
    campaign = campaign_file(tmp_path)
    store = open_store(str(tmp_path / "q.db"))
    fill(store, datetime.now(timezone.utc))
    gate = Gate(None)
    daemon = Daemon(store, lambda: load_campaigns([campaign]), pool=pool_with(gate, tmp_path), workers=3)
    try:
        assert daemon.run_once() == 0
        items = store.list_items()
    finally:
        store.close()
    assert 1 <= gate.most <= 3
    assert {i.state for i in items} == {ItemState.PUBLISHED}
    # One commit per post left every post recorded, in order, with its remote id and history.
    for item in items:
        assert [p.state for p in item.posts] == [PostState.POSTED] * 5 and all(p.remote_id for p in item.posts)
