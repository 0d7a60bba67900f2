"""Claiming due items under leases: one holder per item, take-over of dead holders, paused accounts, wake-ups."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text
from store_helpers import LEASE, T0, Hourly, at, new_item

from bot.store import ItemState, LeaseLost, Store
from bot.store.publishing import PublishingMixin


def test_nothing_is_claimed_before_it_is_due(store: Store) -> None:
    store.enqueue(new_item(), schedule=Hourly(), now=T0)
    assert store.claim_due(at(0.49), "n", LEASE) is None
    assert store.claim_due(at(0.5), "n", LEASE) is not None


def test_items_are_claimed_in_due_order_and_each_once(store: Store) -> None:
    # One account each: an account's threads are claimed one at a time (see the account tests).
    late = store.enqueue(new_item("late.txt", account="acc-late"), at=at(3), now=T0).item.id
    slotted = [store.enqueue(new_item(f"{i}.txt", account=f"acc-{i}"), schedule=Hourly(), now=T0).item.id
               for i in range(3)]
    claimed = []
    while (item := store.claim_due(at(5), "n", LEASE)) is not None:
        claimed.append(item.id)
    assert claimed == [*slotted, late]


def test_two_holders_never_get_the_same_item(store: Store) -> None:
    store.enqueue(new_item(), schedule=Hourly(), now=T0)
    first = store.claim_due(at(0.5), "node-1", LEASE)
    assert first is not None and first.lease_holder == "node-1"
    assert store.claim_due(at(0.5), "node-2", LEASE) is None
    assert store.claim_due(at(0.5) + LEASE - timedelta(microseconds=1), "node-2", LEASE) is None


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_told(store: Store) -> None:
    item_id = store.enqueue(new_item(), schedule=Hourly(), now=T0).item.id
    store.claim_due(at(0.5), "node-1", LEASE)
    store.record_post(item_id, 1, "r1", None, at(0.5))
    later = at(0.5) + LEASE
    taken = store.claim_due(later, "node-2", LEASE)
    assert taken is not None and taken.id == item_id and taken.lease_holder == "node-2"
    assert taken.lease_expires_at == later + LEASE
    assert taken.next_post.index == 2  # resumes after the post node-1 recorded
    with pytest.raises(LeaseLost, match="held by node-2"):
        store.renew_lease(item_id, "node-1", LEASE, now=later)
    assert store.release(item_id, "node-1", now=later) is False
    with pytest.raises(LeaseLost):
        store.post_failed(item_id, "late", holder="node-1", now=later)


def test_renewing_keeps_the_item(store: Store) -> None:
    item_id = store.enqueue(new_item(), schedule=Hourly(), now=T0).item.id
    store.claim_due(at(0.5), "node-1", LEASE)
    t = at(0.5) + timedelta(seconds=25)
    assert store.renew_lease(item_id, "node-1", LEASE, now=t) == t + LEASE
    assert store.claim_due(at(0.5) + LEASE + timedelta(seconds=1), "node-2", LEASE) is None
    assert store.get_item(item_id).lease_expires_at == t + LEASE


def test_release_gives_items_back_at_once(store: Store) -> None:
    ids = [store.enqueue(new_item(f"{i}.txt", account=f"acc-{i}"), at=at(0.5), now=T0).item.id for i in range(3)]
    a = store.claim_due(at(0.5), "node-1", LEASE)
    store.claim_due(at(0.5), "node-1", LEASE)
    assert store.release(a.id, "node-1", now=at(0.5)) is True
    assert store.get_item(a.id).state == ItemState.SCHEDULED
    assert store.claim_due(at(0.5), "node-2", LEASE).id == a.id
    assert store.release_all("node-1", now=at(0.5)) == 1
    got = {store.claim_due(at(0.5), "node-2", LEASE).id for _ in range(2)}
    assert got == set(ids) - {a.id}
    with pytest.raises(LeaseLost):
        store.renew_lease(a.id, "node-1", LEASE, now=at(0.5))


def test_paused_accounts_are_skipped_and_others_go_on(store: Store) -> None:
    x = store.enqueue(new_item("a.txt"), at=at(0.5), now=T0).item.id
    m = store.enqueue(new_item("a.txt", account="desk-m", platform="mastodon"), at=at(0.6), now=T0).item.id
    store.pause_account("desk-x", at(2), "rate limited until the reset time", now=at(0.5))
    assert store.account_state("desk-x").is_paused(at(1))
    assert store.claim_due(at(1), "n", LEASE).id == m
    assert store.claim_due(at(1), "n", LEASE) is None
    assert store.next_due_at(at(1)) == at(1) + LEASE  # the lease of the mastodon item
    store.post_failed(m, "rejected", final_state="needs_review", now=at(1))
    assert store.next_due_at(at(1)) == at(2)  # wake when the pause ends, not in a busy loop
    assert store.claim_due(at(2), "n", LEASE).id == x


def test_pause_until_resumed(store: Store) -> None:
    x = store.enqueue(new_item(), at=at(0.5), now=T0).item.id
    store.pause_account("desk-x", None, "authentication failed: run `crieur auth x`", now=T0)
    assert store.claim_due(at(100), "n", LEASE) is None
    assert store.next_due_at(at(100)) is None
    assert [s.account for s in store.paused_accounts(at(100))] == ["desk-x"]
    store.resume_account("desk-x")
    assert store.claim_due(at(100), "n", LEASE).id == x


def test_next_due_at(store: Store) -> None:
    assert store.next_due_at(T0) is None
    store.enqueue(new_item("a.txt"), schedule=Hourly(), now=T0)
    store.enqueue(new_item("b.txt"), at=at(0.2), now=T0)
    store.enqueue(new_item("c.txt", campaign="other"), at=at(0.1), now=T0)
    assert store.next_due_at(T0) == at(0.1)
    assert store.next_due_at(T0, campaigns=["desk"]) == at(0.2)
    item = store.claim_due(at(0.3), "n", LEASE, campaigns=["desk"])
    assert item.source == "b.txt"
    # a claimed item wakes the daemon when its lease could expire
    assert store.next_due_at(at(0.3), campaigns=["desk"]) == at(0.3) + LEASE


def test_campaign_filter_leaves_other_campaigns_alone(store: Store) -> None:
    store.enqueue(new_item(campaign="theirs"), at=at(0.1), now=T0)
    assert store.claim_due(at(1), "n", LEASE, campaigns=["mine"]) is None
    assert store.claim_due(at(1), "n", LEASE, campaigns=[]) is None
    assert store.claim_due(at(1), "n", LEASE, campaigns=["mine", "theirs"]) is not None


def test_concurrent_claimers_share_the_work_without_overlap(make_store) -> None:
    setup = make_store()
    ids = {setup.enqueue(new_item(f"{i}.txt", account=f"acc-{i % 10}"), at=at(0.5), now=T0).item.id
           for i in range(40)}
    claimed: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        store = make_store()
        mine = claimed.setdefault(name, [])
        while (item := store.claim_due(at(1), name, LEASE)) is not None:
            mine.append(item.id)
            for post in item.posts:  # publish it, which frees its account for the next claim
                store.record_post(item.id, post.index, f"{item.id}-{post.index}", None, at(1), now=at(1))

    threads = [threading.Thread(target=worker, args=(f"node-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for lst in claimed.values() for i in lst]
    assert sorted(everything) == sorted(ids)  # each item exactly once


def test_due_item_lookup_uses_an_index_on_sqlite(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    store.enqueue(new_item(), schedule=Hourly(), now=T0)
    for campaigns in (None, ["desk", "other"]):
        query = PublishingMixin._due_query(store, at(1), campaigns)
        with store.engine.connect() as conn:
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            plan = " | ".join(row[-1] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        # a range search on the ready index, in its order: no scan of items, no sort afterwards
        assert "SEARCH items USING INDEX ix_items_ready (ready_at<?)" in plan, plan
        assert "SCAN items" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_due_item_lookup_uses_an_index_on_postgresql(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("EXPLAIN on PostgreSQL")
    store.enqueue(new_item(), schedule=Hourly(), now=T0)
    query = PublishingMixin._due_query(store, at(1), None)
    with store.engine.connect() as conn:
        # A tiny table is cheaper to scan; forbid that to see whether an index can serve the query.
        conn.execute(text("SET enable_seqscan = off"))
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_items_ready" in plan, plan


def test_one_account_publishes_one_thread_at_a_time_whatever_the_claimers(make_store) -> None:
    """Four claimers (nodes) on one account: a second thread of the account is never claimed
    while the first is being published; once published, the next one goes."""
    setup = make_store()
    ids = {setup.enqueue(new_item(f"{i}.txt"), at=at(0.5), now=T0).item.id for i in range(12)}
    guard = threading.Lock()
    active = [0]
    peak = [0]
    done: list[int] = []

    def worker(name: str) -> None:
        store = make_store()
        idle = 0
        while idle < 50 and len(done) < len(ids):
            item = store.claim_due(at(1), name, LEASE)
            if item is None:
                idle += 1
                continue
            with guard:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            for post in item.posts[:-1]:
                store.record_post(item.id, post.index, f"{item.id}-{post.index}", None, at(1), now=at(1))
            with guard:
                active[0] -= 1  # before the last record commits: nobody can claim until it does
                done.append(item.id)
            last = item.posts[-1]
            store.record_post(item.id, last.index, f"{item.id}-{last.index}", None, at(1), now=at(1))

    threads = [threading.Thread(target=worker, args=(f"node-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1
    assert sorted(done) == sorted(ids)


def test_a_taken_over_thread_resumes_before_new_threads_of_its_account(store: Store) -> None:
    first = store.enqueue(new_item("first.txt"), at=at(0.5), now=T0).item.id
    claimed = store.claim_due(at(0.5), "node-1", LEASE)
    assert claimed is not None and claimed.id == first
    store.record_post(first, 1, "r1", None, at(0.5), now=at(0.5))
    # node-1 dies; meanwhile newer threads of the account became due before its lease ran out.
    newer = [store.enqueue(new_item(f"n{i}.txt"), at=at(0.5) + timedelta(seconds=i + 1), now=T0).item.id
             for i in range(3)]
    assert store.claim_due(at(0.5) + LEASE / 2, "node-2", LEASE) is None  # the account is busy
    taken = store.claim_due(at(0.5) + LEASE, "node-2", LEASE)
    assert taken is not None and taken.id == first and taken.next_post.index == 2
    assert newer  # the newer ones wait for it


def test_next_due_at_waits_for_a_busy_account_instead_of_spinning(store: Store) -> None:
    store.enqueue(new_item("a.txt"), at=at(0.5), now=T0)
    store.enqueue(new_item("b.txt"), at=at(0.5), now=T0)
    store.claim_due(at(0.5), "node-1", LEASE)
    # b is due, but its account is busy: wake when the busy thread's lease would run out.
    assert store.next_due_at(at(0.5)) == at(0.5) + LEASE


def test_concurrent_batches_sharing_accounts_never_deadlock(make_store) -> None:
    """Batches listing the same accounts in opposite orders, enqueued at once: every one lands
    (PostgreSQL would deadlock if each batch locked its accounts in its own order)."""
    accounts = [f"acc-{n}" for n in range(4)]
    errors: list[BaseException] = []
    stores = [make_store() for _ in range(6)]

    def worker(n: int) -> None:
        order = accounts if n % 2 else list(reversed(accounts))
        batch = [(new_item(f"w{n}-{a}.txt", account=a, campaign=f"c{n}"), Hourly()) for a in order]
        try:
            for round_ in range(3):
                stores[n].enqueue_many([(replace_source(new, round_), s) for new, s in batch], now=T0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    items = stores[0].list_items()
    assert len(items) == 6 * 4 * 3
    for account in accounts:  # and the slots stay unique per account
        slots = [i.slot_at for i in items if i.account == account]
        assert len(slots) == len(set(slots))


def replace_source(new, round_: int):  # noqa: ANN001, ANN201
    from dataclasses import replace

    return replace(new, source=f"{new.source}-{round_}")
