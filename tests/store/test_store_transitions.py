"""The state table (bot.store.states): the moves it allows, who may make them, and the invariants
every store operation keeps (a lease only while publishing, `ready_at` only while claimable)."""

from __future__ import annotations

import random
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from store_helpers import LEASE, T0, Hourly, at, new_item

from bot.store import InvalidTransition, ItemState, Store, StoreError
from bot.store.schema import items
from bot.store.states import MOVES, STATES, Actor, moved_values, state_columns


def _row(state: ItemState, **kw):
    base = dict(id=7, state=state, due_at=T0, next_attempt_at=T0, lease_holder=None, lease_expires_at=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_every_state_has_a_rule_and_every_move_names_known_states() -> None:
    assert set(STATES) == set(ItemState)
    for name, move in MOVES.items():
        assert move.target in STATES, name
        assert move.sources <= set(STATES), name
        assert move.actors, name


def test_state_columns_derive_lease_and_ready_at() -> None:
    later = T0 + timedelta(minutes=5)
    sched = state_columns(ItemState.SCHEDULED, {"due_at": T0, "next_attempt_at": later, "lease_holder": "n"})
    assert sched == {"state": ItemState.SCHEDULED, "lease_holder": None, "lease_expires_at": None, "ready_at": later}
    pub = state_columns(ItemState.PUBLISHING, {"due_at": T0, "next_attempt_at": T0, "lease_holder": "n",
                                               "lease_expires_at": later})
    assert pub["ready_at"] == later and pub["lease_holder"] == "n"
    with pytest.raises(ValueError, match="needs a lease"):
        state_columns(ItemState.PUBLISHING, {"due_at": T0, "next_attempt_at": T0})
    done = state_columns(ItemState.PUBLISHED, {"due_at": T0, "next_attempt_at": T0, "lease_holder": "n",
                                               "lease_expires_at": later})
    assert done["ready_at"] is None and done["lease_holder"] is None and done["lease_expires_at"] is None


def test_moves_check_actor_source_state_and_live_leases() -> None:
    with pytest.raises(ValueError, match="user may not make the move 'claim'"):
        moved_values("claim", _row(ItemState.SCHEDULED), Actor.USER, T0, holder="n", lease_expires_at=T0)
    with pytest.raises(ValueError, match="publisher may not make the move 'cancel'"):
        moved_values("cancel", _row(ItemState.SCHEDULED), Actor.PUBLISHER, T0)
    with pytest.raises(InvalidTransition, match="^item 7 is published; it cannot be cancelled$"):
        moved_values("cancel", _row(ItemState.PUBLISHED), Actor.USER, T0)
    live = _row(ItemState.PUBLISHING, lease_holder="n", lease_expires_at=T0 + LEASE)
    with pytest.raises(InvalidTransition, match="being published right now; it cannot be cancelled"):
        moved_values("cancel", live, Actor.USER, T0)
    # Once the lease ran out (its holder died), a person may act.
    values = moved_values("cancel", live, Actor.USER, T0 + LEASE * 2)
    assert values["state"] == ItemState.CANCELLED and values["lease_holder"] is None and values["ready_at"] is None
    with pytest.raises(ValueError, match="derive from the state"):
        moved_values("retry", _row(ItemState.FAILED), Actor.USER, T0, ready_at=T0)


def _check_invariants(store: Store) -> None:
    with store.engine.connect() as conn:
        rows = conn.execute(select(items)).all()
    for row in rows:
        rule = STATES[ItemState(row.state)]
        assert (row.lease_holder is not None) == rule.leased, row
        assert (row.lease_expires_at is not None) == rule.leased, row
        assert (row.ready_at is not None) == (rule.ready is not None), row
        if rule.ready == "schedule":
            assert row.ready_at == max(row.due_at, row.next_attempt_at), row
        elif rule.ready == "lease":
            assert row.ready_at == row.lease_expires_at, row


def test_random_operations_keep_the_invariants(store: Store) -> None:
    """Every public operation that moves an item, in a seeded random order, on both backends."""
    rng = random.Random(10)
    now = T0
    ids = [store.enqueue(new_item(f"s{i}.txt"), schedule=Hourly(), now=now).item.id for i in range(6)]
    holders = ["node-1", "node-2"]

    def op() -> None:
        nonlocal now
        now += timedelta(minutes=rng.choice([1, 10, 40]))
        item_id = rng.choice(ids)
        item = store.get_item(item_id)
        holder = rng.choice(holders)
        choice = rng.choice(["claim", "record", "fail", "review", "release", "renew", "cancel", "retry",
                             "reschedule", "resolve", "pause", "reslot", "reenqueue"])
        if choice == "claim":
            store.claim_due(now, holder, LEASE)
        elif choice == "record" and item.state == ItemState.PUBLISHING and item.next_post:
            store.mark_sending(item_id, item.next_post.index, item.lease_holder, now=now)
            store.record_post(item_id, item.next_post.index, f"r{item_id}-{item.next_post.index}", None, now, now=now)
        elif choice in ("fail", "review", "pause") and item.state == ItemState.PUBLISHING:
            final = {"fail": ItemState.FAILED, "review": ItemState.NEEDS_REVIEW, "pause": None}[choice]
            store.post_failed(item_id, "boom", final_state=final, retry_at=now + timedelta(minutes=5),
                              count=choice != "pause", now=now, index=item.next_post.index if item.next_post else None,
                              unknown=rng.random() < 0.2 and item.next_post is not None)
        elif choice == "release" and item.lease_holder:
            store.release(item_id, item.lease_holder, now=now)
        elif choice == "renew" and item.lease_holder:
            store.renew_lease(item_id, item.lease_holder, LEASE, now=now)
        elif choice == "reslot" and item.state == ItemState.SCHEDULED:
            store.reslot(item_id, Hourly(), now=now)
        elif choice == "reenqueue":
            store.enqueue(new_item(item.source, content_hash=f"h{rng.random()}"), schedule=Hourly(), now=now)
        else:
            try:
                if choice == "cancel":
                    store.cancel(item_id, now=now)
                elif choice == "retry":
                    store.retry(item_id, now=now)
                elif choice == "reschedule":
                    store.reschedule(item_id, now + timedelta(hours=1), now=now)
                elif choice == "resolve" and item.next_post:
                    store.resolve_post(item_id, item.next_post.index, posted=rng.random() < 0.5,
                                       remote_id="manual", now=now)
            except (InvalidTransition, StoreError):
                pass

    for _ in range(120):
        op()
        _check_invariants(store)


def test_a_claim_keeps_the_invariants_at_the_first_step(store: Store) -> None:
    item_id = store.enqueue(new_item(), schedule=Hourly(), now=T0).item.id
    claimed = store.claim_due(at(1), "node-1", LEASE)
    assert claimed is not None and claimed.id == item_id
    _check_invariants(store)
