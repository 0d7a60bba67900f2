"""Enqueueing: duplicates, re-formatting, already published, --force, slots and the per-account cursor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from store_helpers import LEASE, T0, EveryTwoHours, Hourly, at, new_item

from bot.store import ItemState, PostState, Store, StoreError
from bot.store.schema import items, slot_cursors


def test_queued_item_takes_the_next_slot_and_keeps_its_posts(store: Store) -> None:
    out = store.enqueue(new_item(media=[{"path": "a.png", "alt": "A"}], options={"spacing": 20}, lang="fr"),
                        schedule=Hourly(), now=T0)
    assert out.action == "queued"
    assert "item 1" in out.message and "desk-x" in out.message
    item = store.get_item(out.item.id)
    assert item.state == ItemState.SCHEDULED
    assert item.due_at == item.slot_at == item.next_attempt_at == at(0.5)  # 09:00 UTC
    assert item.due_at.tzinfo is not None and item.due_at.utcoffset() == timedelta(0)
    assert [p.text for p in item.posts] == ["first post", "second post", "third post"]
    assert [p.index for p in item.posts] == [1, 2, 3]
    assert all(p.state == PostState.PENDING and p.remote_id is None for p in item.posts)
    keys = [p.idempotency_key for p in item.posts]
    assert len(set(keys)) == 3 and all(keys)
    assert item.media == [{"path": "a.png", "alt": "A"}] and item.options == {"spacing": 20} and item.lang == "fr"
    assert item.attempts == 0 and item.last_error is None
    assert item.created_at == item.updated_at == T0
    # the idempotency keys are stored once: reading again gives the same keys
    assert [p.idempotency_key for p in store.get_item(item.id).posts] == keys


def test_same_article_twice_is_a_duplicate_and_changes_nothing(store: Store) -> None:
    first = store.enqueue(new_item(), schedule=Hourly(), now=T0)
    again = store.enqueue(new_item(), schedule=Hourly(), now=at(0.2))
    assert again.action == "duplicate"
    assert again.item.id == first.item.id
    assert "already queued" in again.message and "nothing changed" in again.message
    assert store.get_item(first.item.id) == first.item
    assert len(store.list_items()) == 1


def test_edited_article_still_scheduled_is_reformatted_in_place_keeping_its_slot(store: Store) -> None:
    first = store.enqueue(new_item(), schedule=Hourly(), now=T0)
    store.enqueue(new_item("b.txt"), schedule=Hourly(), now=T0)
    out = store.enqueue(new_item(content_hash="hash-2", title="New", posts=["only post"]), schedule=Hourly(), now=at(0.1))
    assert out.action == "reformatted"
    assert "re-formatted" in out.message
    item = out.item
    assert item.id == first.item.id and item.slot_at == first.item.slot_at == item.due_at
    assert item.title == "New" and item.content_hash == "hash-2"
    assert [p.text for p in item.posts] == ["only post"]
    assert len(store.list_items()) == 2


def test_force_on_scheduled_duplicate_reformats_and_at_moves_it(store: Store) -> None:
    first = store.enqueue(new_item(), schedule=Hourly(), now=T0)
    out = store.enqueue(new_item(posts=["x"]), schedule=Hourly(), at=at(5), now=T0, force=True)
    assert out.action == "reformatted" and out.item.id == first.item.id
    assert out.item.due_at == at(5) and out.item.slot_at is None
    # its old slot (09:00) was freed and goes to the next article
    nxt = store.enqueue(new_item("c.txt"), schedule=Hourly(), now=T0)
    assert nxt.item.slot_at == first.item.slot_at


def _publish_all(store: Store, item_id: int, now=T0) -> None:
    item = store.claim_due(store.get_item(item_id).due_at, "h", LEASE)
    assert item is not None and item.id == item_id
    for p in item.posts:
        store.record_post(item_id, p.index, f"r{item_id}-{p.index}", None, item.due_at)


def test_published_article_is_not_posted_again_unless_forced(store: Store) -> None:
    first = store.enqueue(new_item(), schedule=Hourly(), now=T0)
    _publish_all(store, first.item.id)
    for content_hash in ("hash-1", "hash-2"):
        out = store.enqueue(new_item(content_hash=content_hash), schedule=Hourly(), now=at(1))
        assert out.action == "already_published"
        assert out.item.id == first.item.id and "--force" in out.message
    assert len(store.list_items()) == 1
    forced = store.enqueue(new_item(), schedule=Hourly(), now=at(1), force=True)
    assert forced.action == "queued" and forced.item.id != first.item.id
    assert forced.item.state == ItemState.SCHEDULED and forced.item.due_at == at(1.5)


def test_article_being_published_or_partly_posted_is_already_published(store: Store) -> None:
    first = store.enqueue(new_item(), schedule=Hourly(), now=T0)
    claimed = store.claim_due(at(0.5), "h", LEASE)
    assert claimed is not None
    assert store.enqueue(new_item(content_hash="h2"), schedule=Hourly(), now=at(0.5)).action == "already_published"
    store.record_post(first.item.id, 1, "r1", None, at(0.5))
    store.post_failed(first.item.id, "timeout", retry_at=at(0.6), now=at(0.5))  # back to scheduled, 1 post out
    out = store.enqueue(new_item(content_hash="h2"), schedule=Hourly(), now=at(0.55))
    assert out.action == "already_published" and "partly" in out.message
    assert [p.text for p in store.get_item(first.item.id).posts][0] == "first post"


def test_failed_article_same_hash_is_duplicate_changed_one_replaces_it(store: Store) -> None:
    first = store.enqueue(new_item(), schedule=Hourly(), now=T0)
    store.claim_due(at(0.5), "h", LEASE)
    store.post_failed(first.item.id, "rejected: too long", final_state="needs_review", now=at(0.5))
    dup = store.enqueue(new_item(), schedule=Hourly(), now=at(1))
    assert dup.action == "duplicate" and f"crieur queue retry {first.item.id}" in dup.message
    out = store.enqueue(new_item(content_hash="hash-2", posts=["shorter"]), schedule=Hourly(), now=at(1))
    assert out.action == "queued" and f"replaces item {first.item.id}" in out.message
    assert store.get_item(first.item.id).state == ItemState.CANCELLED


def test_a_cancel_sticks_unless_forced(store: Store) -> None:
    first = store.enqueue(new_item(), schedule=Hourly(), now=T0)
    store.cancel(first.item.id, now=T0)
    for content_hash in ("hash-1", "hash-2"):  # the same article, or an edited one
        again = store.enqueue(new_item(content_hash=content_hash), schedule=Hourly(), now=T0)
        assert again.action == "cancelled" and again.item.id == first.item.id
        assert "was cancelled" in again.message and "--force" in again.message
    out = store.enqueue(new_item(), schedule=Hourly(), now=T0, force=True)
    assert out.action == "queued" and out.item.id != first.item.id
    assert out.item.slot_at == first.item.slot_at  # the cancelled item's slot was freed


def test_identity_is_campaign_account_and_source(store: Store) -> None:
    store.enqueue(new_item(), schedule=Hourly(), now=T0)
    assert store.enqueue(new_item(account="desk-m", platform="mastodon"), schedule=Hourly(), now=T0).action == "queued"
    assert store.enqueue(new_item(campaign="other"), schedule=Hourly(), now=T0).action == "queued"
    assert store.enqueue(new_item("b.txt"), schedule=Hourly(), now=T0).action == "queued"
    assert len(store.list_items()) == 4


def test_slots_follow_each_other_per_account_and_accounts_are_independent(store: Store) -> None:
    slots = [store.enqueue(new_item(f"{i}.txt"), schedule=Hourly(), now=T0).item.slot_at for i in range(5)]
    assert slots == [at(0.5 + i) for i in range(5)]
    other = store.enqueue(new_item("0.txt", account="desk-m"), schedule=Hourly(), now=T0)
    assert other.item.slot_at == at(0.5)
    # two campaigns naming one account share its slots
    shared = store.enqueue(new_item("z.txt", campaign="other"), schedule=Hourly(), now=T0)
    assert shared.item.slot_at == at(5.5)


def test_cursor_avoids_walking_the_schedule_past_queued_items(store: Store) -> None:
    for i in range(50):
        store.enqueue(new_item(f"{i}.txt"), schedule=Hourly(), now=T0)
    Hourly.calls = 0
    out = store.enqueue(new_item("last.txt"), schedule=Hourly(), now=T0)
    assert out.item.slot_at == at(50.5)
    assert Hourly.calls == 1  # one step from the cursor, not 51 from now
    with store.engine.connect() as conn:
        assert conn.execute(select(slot_cursors.c.last_slot_at)).scalar_one() == at(50.5)


def test_cursor_in_the_past_restarts_from_now(store: Store) -> None:
    store.enqueue(new_item("a.txt"), schedule=Hourly(), now=T0)
    out = store.enqueue(new_item("b.txt"), schedule=Hourly(), now=at(10.2))
    assert out.item.slot_at == at(10.5)


def test_explicit_time_takes_no_slot(store: Store) -> None:
    out = store.enqueue(new_item(), at=at(0.5), now=T0)
    assert out.item.due_at == at(0.5) and out.item.slot_at is None
    # the 09:00 slot is still free for a scheduled article
    assert store.enqueue(new_item("b.txt"), schedule=Hourly(), now=T0).item.slot_at == at(0.5)
    # `at` may be in the past ("--at now" a moment ago): due at once
    assert store.enqueue(new_item("c.txt"), at=T0 - timedelta(minutes=1), now=T0).item.due_at < T0


def test_freed_slots_are_reused_first_but_only_if_still_in_the_schedule(store: Store) -> None:
    ids = [store.enqueue(new_item(f"{i}.txt"), schedule=Hourly(), now=T0).item.id for i in range(4)]
    store.cancel(ids[1], now=T0)  # frees 10:00
    store.reschedule(ids[2], at(20), now=T0)  # frees 11:00
    assert store.get_item(ids[1]).slot_at is None
    assert store.enqueue(new_item("a.txt"), schedule=Hourly(), now=T0).item.slot_at == at(1.5)
    # 11:00 is not a slot of the new schedule (even hours): it is dropped, the cursor goes on
    assert store.enqueue(new_item("b.txt"), schedule=EveryTwoHours(), now=T0).item.slot_at == at(5.5)
    assert store.enqueue(new_item("c.txt"), schedule=Hourly(), now=T0).item.slot_at == at(6.5)


def test_freed_slot_in_the_past_is_not_reused(store: Store) -> None:
    first = store.enqueue(new_item("a.txt"), schedule=Hourly(), now=T0)
    store.enqueue(new_item("b.txt"), schedule=Hourly(), now=T0)
    store.cancel(first.item.id, now=T0)
    assert store.enqueue(new_item("c.txt"), schedule=Hourly(), now=at(0.75)).item.slot_at == at(2.5)


def test_unique_index_refuses_two_items_in_one_slot(store: Store) -> None:
    store.enqueue(new_item(), schedule=Hourly(), now=T0)
    row = {c.name: None for c in items.columns if c.name != "id"}
    row.update(campaign="c", account="desk-x", platform="x", source="s", content_hash="h", title="t", media=[],
               options={}, state="scheduled", due_at=at(0.5), slot_at=at(0.5), attempts=0,
               next_attempt_at=at(0.5), created_at=T0, updated_at=T0)
    with pytest.raises(IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(items.insert().values(**row))


def test_dry_run_changes_nothing(store: Store) -> None:
    out = store.enqueue(new_item(), schedule=Hourly(), now=T0, dry_run=True)
    assert out.action == "queued" and out.item.due_at == at(0.5)
    assert store.list_items() == []
    real = store.enqueue(new_item(), schedule=Hourly(), now=T0)
    assert real.item.slot_at == at(0.5)  # the cursor did not move either


def test_enqueue_needs_posts_and_a_time(store: Store) -> None:
    with pytest.raises(StoreError, match="no posts"):
        store.enqueue(new_item(posts=[]), schedule=Hourly(), now=T0)
    with pytest.raises(StoreError, match="schedule or an explicit time"):
        store.enqueue(new_item(), now=T0)
    with pytest.raises(ValueError, match="naive"):
        store.enqueue(new_item(), at=T0.replace(tzinfo=None), now=T0)


def test_a_schedule_that_does_not_move_forward_is_an_error(store: Store) -> None:
    class Stuck:
        def next_slot(self, after):
            return T0

    with pytest.raises(StoreError, match="not a slot after"):
        store.enqueue(new_item(), schedule=Stuck(), now=T0)


def test_list_filters_and_order(store: Store) -> None:
    a = store.enqueue(new_item("a.txt"), schedule=Hourly(), now=T0).item
    b = store.enqueue(new_item("b.txt", campaign="other"), at=at(0.1), now=T0).item
    c = store.enqueue(new_item("c.txt"), schedule=Hourly(), now=T0).item
    store.cancel(c.id, now=T0)
    assert [i.id for i in store.list_items()] == [b.id, a.id, c.id]
    assert [i.id for i in store.list_items(state="cancelled")] == [c.id]
    assert [i.id for i in store.list_items(state=ItemState.SCHEDULED, campaign="desk")] == [a.id]
    assert [i.id for i in store.list_items(campaign="other")] == [b.id]
    assert all(len(i.posts) == 3 for i in store.list_items())
    assert store.find_item("desk", "desk-x", "a.txt").id == a.id
    assert store.find_item("desk", "desk-x", "c.txt") is None
