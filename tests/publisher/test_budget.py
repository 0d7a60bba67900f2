"""The whole-thread budget: a thread starts only when the account's budget can take all of it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.campaign import load_campaign
from bot.publisher import AdapterPool, Publisher
from bot.store import ItemState, NewItem, open_store

NOW = datetime(2030, 5, 6, 12, 0, tzinfo=timezone.utc)
CAMPAIGN = """\
name: budget
timezone: UTC
accounts:
  desk:
    platform: dryrun
schedule:
  slots: ["0 9 * * *"]
  spacing: 0s
"""


def _setup(tmp_path: Path, caps: dict) -> tuple:
    path = tmp_path / "budget.yaml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    campaign = load_campaign(path)
    clock = [NOW]
    store = open_store(str(tmp_path / "q.db"), clock=lambda: clock[0])  # one clock for store and publisher
    pool = AdapterPool(dry_run=True, dryrun_path=tmp_path / "dryrun.jsonl")
    publisher = Publisher(store, {campaign.name: campaign}, pool, holder="h", clock=lambda: clock[0], caps=caps)
    for name in ("first", "second"):
        store.enqueue(NewItem(campaign="budget", account="desk", platform="dryrun", source=name, content_hash=name,
                              title=name, posts=[f"{name} {i}" for i in range(1, 4)]),
                      at=NOW - timedelta(minutes=1), now=NOW - timedelta(hours=1))
    return store, pool, publisher, clock


def test_known_cap_defers_the_whole_thread_until_it_fits(tmp_path: Path) -> None:
    store, pool, publisher, clock = _setup(tmp_path, {"dryrun": ((timedelta(hours=3), 5),)})
    try:
        first = store.claim_due(NOW, "h", timedelta(seconds=30))
        assert publisher.publish(first).outcome == "published"
        second = store.claim_due(NOW, "h", timedelta(seconds=30))
        result = publisher.publish(second)
        # 3 posted in the window, 3 more needed, cap 5: the first post must leave the window first.
        assert result.outcome == "deferred"
        assert store.get_item(second.id).state == ItemState.SCHEDULED
        assert store.get_item(second.id).posted_count == 0  # no fragment on the timeline
        state = store.account_state("desk")
        assert state.paused_until == NOW + timedelta(hours=3)
        assert [a.outcome for a in store.attempts(second.id)] == ["deferred"]
        assert store.claim_due(NOW + timedelta(hours=2), "h", timedelta(seconds=30)) is None

        clock[0] = NOW + timedelta(hours=3, seconds=1)
        again = store.claim_due(clock[0], "h", timedelta(seconds=30))
        assert again is not None and again.id == second.id
        assert publisher.publish(again).outcome == "published"
    finally:
        pool.close()
        store.close()


def test_last_rate_limit_headers_defer_the_thread(tmp_path: Path) -> None:
    # The dry-run plug-in reads the IETF RateLimit-* pair; each platform's plug-in names its own.
    store, pool, publisher, _ = _setup(tmp_path, {})
    try:
        reset = NOW + timedelta(hours=5)
        store.set_rate_limit("desk", {"ratelimit-remaining": "2",
                                      "ratelimit-reset": str(int(reset.timestamp()))})
        item = store.claim_due(NOW, "h", timedelta(seconds=30))
        assert publisher.publish(item).outcome == "deferred"
        assert store.account_state("desk").paused_until == reset
        # Enough budget: it goes.
        store.set_rate_limit("desk", {"ratelimit-remaining": "3",
                                      "ratelimit-reset": str(int(reset.timestamp()))})
        store.resume_account("desk")
        item = store.claim_due(NOW, "h", timedelta(seconds=30))
        assert publisher.publish(item).outcome == "published"
    finally:
        pool.close()
        store.close()


def test_headers_of_another_platform_are_not_read(tmp_path: Path) -> None:
    store, pool, publisher, _ = _setup(tmp_path, {})
    try:
        reset = NOW + timedelta(hours=5)
        store.set_rate_limit("desk", {"x-user-limit-24hour-remaining": "0",
                                      "x-user-limit-24hour-reset": str(int(reset.timestamp()))})
        item = store.claim_due(NOW, "h", timedelta(seconds=30))
        assert publisher.publish(item).outcome == "published"
    finally:
        pool.close()
        store.close()
