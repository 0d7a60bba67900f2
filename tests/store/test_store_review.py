"""Approval, rejection and edits in the store, on SQLite and PostgreSQL: the rules a desk relies on."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from store_helpers import LEASE, T0, Hourly, at, new_item

from bot.store import EditConflict, InvalidTransition, ItemState, StoreError

REVIEW = {"review": "required"}


def _awaiting(store, source: str = "a.txt"):
    outcome = store.enqueue(new_item(source, options=REVIEW), schedule=Hourly(), now=T0)
    assert outcome.item.state == ItemState.AWAITING_REVIEW
    return outcome.item


def test_awaiting_review_is_never_claimed(store) -> None:
    item = _awaiting(store)
    assert store.claim_due(item.due_at + timedelta(days=30), "node", LEASE) is None
    assert store.next_due_at(T0) is None


def test_approval_schedules_on_its_slot_and_records_who(store) -> None:
    item = _awaiting(store)
    approved = store.approve(item.id, "Alice", grace=timedelta(hours=1), now=T0, expected_version=item.version)
    assert approved.state == ItemState.SCHEDULED and approved.due_at == item.due_at
    assert approved.version == item.version + 1
    history = store.attempts(item.id)
    assert [(h.outcome, h.message, h.at) for h in history] == [("approved", "by Alice", T0)]
    assert store.claim_due(item.due_at - timedelta(seconds=1), "node", LEASE) is None
    assert store.claim_due(item.due_at, "node", LEASE).id == item.id


def test_approval_after_the_slot_within_grace_goes_at_once(store) -> None:
    item = _awaiting(store)
    late = item.due_at + timedelta(minutes=30)
    approved = store.approve(item.id, "Bob", grace=timedelta(hours=1), now=late)
    assert approved.due_at == late
    assert store.claim_due(late, "node", LEASE).id == item.id


def test_approval_past_grace_takes_the_next_free_slot_or_goes_now(store) -> None:
    first = _awaiting(store, "a.txt")
    second = store.enqueue(new_item("b.txt"), schedule=Hourly(), now=T0).item  # holds the next slot
    late = first.due_at + timedelta(hours=3, minutes=10)
    with pytest.raises(StoreError, match="more than its grace"):
        store.approve(first.id, "Bob", grace=timedelta(hours=1), now=late)
    moved = store.approve(first.id, "Bob", grace=timedelta(hours=1), schedule=Hourly(), now=late)
    assert moved.due_at > late and moved.due_at != second.due_at and moved.slot_at == moved.due_at
    assert "moved to" in store.attempts(first.id)[-1].message
    other = _awaiting(store, "c.txt")
    now_late = other.due_at + timedelta(hours=5)
    went = store.approve(other.id, "Bob", grace=timedelta(hours=1), at_once=True, now=now_late)
    assert went.due_at == now_late


def test_only_awaiting_items_can_be_approved_and_a_name_is_needed(store) -> None:
    plain = store.enqueue(new_item("p.txt"), schedule=Hourly(), now=T0).item
    with pytest.raises(InvalidTransition, match="only a thread awaiting review"):
        store.approve(plain.id, "Alice", grace=timedelta(hours=1), now=T0)
    item = _awaiting(store)
    with pytest.raises(StoreError, match="reviewer's name"):
        store.approve(item.id, "  ", grace=timedelta(hours=1), now=T0)


def test_reject_frees_the_slot_and_keeps_the_reason(store) -> None:
    item = _awaiting(store)
    rejected = store.reject(item.id, "Alice", "wrong figures", now=T0)
    assert rejected.state == ItemState.REJECTED and rejected.slot_at is None
    assert rejected.last_error == "rejected by Alice: wrong figures"
    assert store.attempts(item.id)[-1].outcome == "rejected"
    again = store.enqueue(new_item("other.txt"), schedule=Hourly(), now=T0).item
    assert again.due_at == item.due_at  # the freed slot is handed out again
    with pytest.raises(StoreError, match="needs a reason"):
        store.reject(again.id, "Alice", " ", now=T0)
    with pytest.raises(InvalidTransition):
        store.approve(item.id, "Alice", grace=timedelta(hours=1), now=T0)
    same = store.enqueue(new_item("a.txt", options=REVIEW), schedule=Hourly(), now=T0)
    assert same.action == "duplicate" and "rejected" in same.message


def test_edit_after_approval_sends_it_back_to_review(store) -> None:
    item = _awaiting(store)
    approved = store.approve(item.id, "Alice", grace=timedelta(hours=1), now=T0)
    edited = store.edit_posts(item.id, ["first post!", "second post", "third post"], by="Bob",
                              expected_version=approved.version, now=T0)
    assert edited.state == ItemState.AWAITING_REVIEW
    assert store.claim_due(item.due_at, "node", LEASE) is None
    assert edited.posts[0].text == "first post!"
    assert edited.posts[0].idempotency_key != approved.posts[0].idempotency_key
    assert edited.posts[1].idempotency_key == approved.posts[1].idempotency_key
    assert store.attempts(item.id)[-1].message == "by Bob (post 1)"


def test_two_editors_get_a_conflict_not_a_lost_edit(make_store) -> None:
    desk_a, desk_b = make_store(), make_store()
    item = desk_a.enqueue(new_item(), schedule=Hourly(), now=T0).item
    desk_a.edit_posts(item.id, ["A's text", "second post", "third post"], by="A", expected_version=item.version, now=T0)
    with pytest.raises(EditConflict, match="changed since you opened it"):
        desk_b.edit_posts(item.id, ["B's text", "second post", "third post"], by="B",
                          expected_version=item.version, now=T0)
    assert desk_b.get_item(item.id).posts[0].text == "A's text"


def test_split_and_join_change_the_post_count_before_publishing(store) -> None:
    item = store.enqueue(new_item(), schedule=Hourly(), now=T0).item
    split = store.edit_posts(item.id, ["a", "b", "c", "d"], by="A", expected_version=item.version, now=T0)
    assert [p.index for p in split.posts] == [1, 2, 3, 4]
    joined = store.edit_posts(item.id, ["ab", "cd"], by="A", expected_version=split.version, now=T0)
    assert [p.text for p in joined.posts] == ["ab", "cd"]


def test_published_posts_are_never_edited(store) -> None:
    item = store.enqueue(new_item(), schedule=Hourly(), now=T0).item
    claimed = store.claim_due(item.due_at, "node", LEASE)
    with pytest.raises(InvalidTransition, match="being published"):
        store.edit_posts(item.id, ["x", "y", "z"], by="A", expected_version=None, now=item.due_at)
    store.record_post(item.id, 1, "r1", None, item.due_at, now=item.due_at)
    store.post_failed(item.id, "boom", final_state="failed", now=item.due_at)
    current = store.get_item(item.id)
    with pytest.raises(InvalidTransition, match="post 1 is published"):
        store.edit_posts(item.id, ["changed", "second post", "third post"], by="A",
                         expected_version=current.version, now=item.due_at)
    with pytest.raises(InvalidTransition, match="partly published"):
        store.edit_posts(item.id, ["first post", "second post", "third", "fourth"], by="A",
                         expected_version=current.version, now=item.due_at)
    ok = store.edit_posts(item.id, ["first post", "second, better", "third post"], by="A",
                          expected_version=current.version, now=item.due_at)
    assert ok.posts[0].remote_id == "r1" and ok.posts[1].text == "second, better"
    assert claimed is not None


def test_reschedule_refuses_a_time_another_thread_of_the_account_holds(store) -> None:
    first = store.enqueue(new_item("a.txt"), schedule=Hourly(), now=T0).item
    second = store.enqueue(new_item("b.txt"), schedule=Hourly(), now=T0).item
    with pytest.raises(InvalidTransition, match=f"taken by item {first.id}"):
        store.reschedule(second.id, first.due_at, now=T0)
    other_account = store.enqueue(replace(new_item("c.txt"), account="desk-m"), schedule=Hourly(), now=T0).item
    assert store.reschedule(other_account.id, first.due_at, now=T0).due_at == first.due_at


def test_reschedule_keeps_a_thread_awaiting_review(store) -> None:
    item = _awaiting(store)
    moved = store.reschedule(item.id, at(10), now=T0)
    assert moved.state == ItemState.AWAITING_REVIEW
    assert store.claim_due(at(11), "node", LEASE) is None


def test_reformatted_article_goes_back_to_review(store) -> None:
    item = _awaiting(store)
    store.approve(item.id, "Alice", grace=timedelta(hours=1), now=T0)
    outcome = store.enqueue(new_item("a.txt", options=REVIEW, content_hash="hash-2"), schedule=Hourly(), now=T0)
    assert outcome.action == "reformatted" and outcome.item.state == ItemState.AWAITING_REVIEW


def test_a_version_2_store_is_upgraded_with_item_versions(store_url: str, make_store) -> None:
    from sqlalchemy import text

    first = make_store()
    item = first.enqueue(new_item(), schedule=Hourly(), now=T0).item
    with first.engine.begin() as conn:
        conn.execute(text("ALTER TABLE items DROP COLUMN version"))
        conn.execute(text("ALTER TABLE posts DROP COLUMN sent_at"))
        conn.execute(text("UPDATE crieur_schema SET version = 2"))
    first.close()
    upgraded = make_store()
    assert upgraded.get_item(item.id).version == 0
    assert upgraded.edit_posts(item.id, ["x"], by="A", expected_version=0, now=T0).version == 1


def test_editing_a_failed_thread_that_needs_review_sends_it_back_to_review(store) -> None:
    item = _awaiting(store)
    store.approve(item.id, "Alice", grace=timedelta(hours=1), now=T0)
    store.claim_due(item.due_at, "node", LEASE)
    failed = store.post_failed(item.id, "rejected by the platform", final_state="failed", now=item.due_at)
    edited = store.edit_posts(item.id, ["better", "second post", "third post"], by="Bob",
                              expected_version=failed.version, now=item.due_at)
    assert edited.state == ItemState.AWAITING_REVIEW
    with pytest.raises(InvalidTransition):
        store.retry(item.id, now=item.due_at)
    approved = store.approve(item.id, "Alice", grace=timedelta(hours=1), now=item.due_at + timedelta(minutes=5))
    assert approved.state == ItemState.SCHEDULED and approved.attempts == 0


def test_random_review_operations_keep_the_state_table_s_invariants(store) -> None:
    """Approve, reject, edit, reschedule and cancel mixed with the publisher, in a seeded random order."""
    import random

    from test_store_transitions import _check_invariants

    from bot.store import EditConflict, StoreError

    rng = random.Random(12)
    now = T0
    ids = [store.enqueue(new_item(f"r{i}.txt", options=REVIEW), schedule=Hourly(), now=now).item.id for i in range(6)]
    for _ in range(150):
        now += timedelta(minutes=rng.choice([1, 10, 40]))
        item = store.get_item(rng.choice(ids))
        choice = rng.choice(["approve", "reject", "edit", "reschedule", "cancel", "claim", "record", "fail"])
        try:
            if choice == "approve":
                store.approve(item.id, "A", grace=timedelta(minutes=30), schedule=Hourly(), now=now)
            elif choice == "reject":
                store.reject(item.id, "A", "no", now=now)
            elif choice == "edit":
                texts = [p.text if p.state == "posted" else p.text + "!" for p in item.posts]
                store.edit_posts(item.id, texts, by="A", expected_version=item.version, now=now)
            elif choice == "reschedule":
                store.reschedule(item.id, now + timedelta(minutes=rng.choice([5, 90])), now=now)
            elif choice == "cancel":
                store.cancel(item.id, now=now)
            elif choice == "claim":
                claimed = store.claim_due(now, "node", LEASE)
                if claimed is not None:  # only ever a thread approved since its last edit
                    outcomes = [h.outcome for h in store.attempts(claimed.id)]
                    assert "approved" in outcomes
                    last_edit = max((i for i, o in enumerate(outcomes) if o == "edited"), default=-1)
                    assert outcomes.index("approved", last_edit + 1) > last_edit
            elif choice == "record" and item.state == ItemState.PUBLISHING and item.next_post:
                store.mark_sending(item.id, item.next_post.index, item.lease_holder, now=now)
                store.record_post(item.id, item.next_post.index, f"r{item.id}-{item.next_post.index}", None, now,
                                  now=now)
            elif choice == "fail" and item.state == ItemState.PUBLISHING:
                store.post_failed(item.id, "boom", final_state="failed", now=now)
        except (InvalidTransition, EditConflict, StoreError):
            pass
        _check_invariants(store)


def test_a_version_3_store_gets_the_sent_time_of_posts(store_url: str, make_store) -> None:
    from sqlalchemy import text

    first = make_store()
    item = first.enqueue(new_item(), schedule=Hourly(), now=T0).item
    with first.engine.begin() as conn:
        conn.execute(text("ALTER TABLE posts DROP COLUMN sent_at"))
        conn.execute(text("UPDATE crieur_schema SET version = 3"))
    first.close()
    upgraded = make_store()
    assert all(p.sent_at is None for p in upgraded.get_item(item.id).posts)
    claimed = upgraded.claim_due(T0 + timedelta(hours=2), "h", timedelta(seconds=30))
    assert claimed is not None and claimed.id == item.id
    upgraded.mark_sending(item.id, 1, "h", now=T0 + timedelta(hours=2))
    assert upgraded.get_item(item.id).posts[0].sent_at == T0 + timedelta(hours=2)


def test_a_post_sent_again_from_scratch_starts_a_new_sent_time(store) -> None:
    item = store.enqueue(new_item(), schedule=Hourly(), now=T0).item
    claimed = store.claim_due(T0 + timedelta(hours=2), "h", LEASE)
    assert claimed is not None
    store.mark_sending(item.id, 1, "h", now=T0 + timedelta(hours=2))
    store.release(item.id, "h")
    store.resolve_post(item.id, 1, posted=False, now=T0 + timedelta(hours=3))  # queue resolve --not-posted
    assert store.get_item(item.id).posts[0].sent_at is None
