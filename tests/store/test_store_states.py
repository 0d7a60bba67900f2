"""The item state machine: publishing a thread post by post, failures, manual commands and invalid transitions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_helpers import LEASE, T0, Hourly, at, new_item

from bot.store import InvalidTransition, ItemState, LeaseLost, NoSuchItem, PostState, Store, StoreError


def _queued(store: Store, source: str = "a.txt") -> int:
    return store.enqueue(new_item(source), schedule=Hourly(), now=T0).item.id


def _claim(store: Store, now=at(0.5), holder: str = "node-1"):
    item = store.claim_due(now, holder, LEASE)
    assert item is not None
    return item


def test_a_thread_is_published_post_by_post(store: Store) -> None:
    item_id = _queued(store)
    item = _claim(store)
    assert item.state == ItemState.PUBLISHING and item.lease_holder == "node-1"
    assert item.lease_expires_at == at(0.5) + LEASE
    assert item.next_post.index == 1
    for i in (1, 2):
        item = store.record_post(item_id, i, f"18{i}", f"https://x.example/s/18{i}", at(0.5), now=at(0.5))
        assert item.state == ItemState.PUBLISHING
        assert item.next_post.index == i + 1 and item.posted_count == i
    item = store.record_post(item_id, 3, "183", "https://x.example/s/183", at(0.5), now=at(0.5))
    assert item.state == ItemState.PUBLISHED and item.lease_holder is None and item.next_post is None
    assert [(p.state, p.remote_id) for p in item.posts] == [(PostState.POSTED, f"18{i}") for i in (1, 2, 3)]
    assert item.posts[0].url == "https://x.example/s/181" and item.posts[0].posted_at == at(0.5)
    history = store.attempts(item_id)
    assert [(a.outcome, a.post_index, a.remote_id) for a in history] == [("posted", i, f"18{i}") for i in (1, 2, 3)]
    assert store.next_due_at(at(0.5)) is None


def test_recording_a_post_twice_is_harmless_but_a_different_remote_id_is_refused(store: Store) -> None:
    item_id = _queued(store)
    _claim(store)
    store.record_post(item_id, 1, "abc", None, at(0.5))
    store.record_post(item_id, 1, "abc", None, at(0.5))
    with pytest.raises(StoreError, match="already recorded as posted with remote id abc"):
        store.record_post(item_id, 1, "xyz", None, at(0.5))
    with pytest.raises(StoreError, match="has no post 9"):
        store.record_post(item_id, 9, "xyz", None, at(0.5))
    assert len(store.attempts(item_id)) == 1


def test_remote_ids_are_opaque_strings(store: Store) -> None:
    item_id = _queued(store)
    _claim(store)
    big = "1861629129744953345"
    store.record_post(item_id, 1, big, None, at(0.5))
    store.record_post(item_id, 2, "at://did:plc:abc/app.bsky.feed.post/3kxyz", None, at(0.5))
    posts = store.get_item(item_id).posts
    assert posts[0].remote_id == big and posts[1].remote_id.startswith("at://")


def test_transient_failure_keeps_posted_posts_and_retries_later(store: Store) -> None:
    item_id = _queued(store)
    _claim(store)
    store.record_post(item_id, 1, "r1", None, at(0.5))
    item = store.post_failed(item_id, "HTTP 503", retry_at=at(0.6), index=2, holder="node-1", now=at(0.5))
    assert item.state == ItemState.SCHEDULED and item.attempts == 1 and item.last_error == "HTTP 503"
    assert item.next_attempt_at == at(0.6) and item.lease_holder is None
    assert store.claim_due(at(0.55), "node-1", LEASE) is None  # not before the retry time
    assert store.next_due_at(at(0.55)) == at(0.6)
    again = _claim(store, at(0.6))
    assert again.next_post.index == 2 and again.posts[0].remote_id == "r1"
    store.post_failed(item_id, "HTTP 503", retry_at=at(0.7), now=at(0.6))
    assert store.get_item(item_id).attempts == 2
    assert [a.outcome for a in store.attempts(item_id)] == ["posted", "retry", "retry"]


def test_final_failures_and_manual_retry(store: Store) -> None:
    item_id = _queued(store)
    _claim(store)
    item = store.post_failed(item_id, "gave up after 10 attempts", final_state="failed", now=at(0.5))
    assert item.state == ItemState.FAILED and store.claim_due(at(5), "n", LEASE) is None
    assert store.next_due_at(at(5)) is None
    item = store.retry(item_id, now=at(2))
    assert item.state == ItemState.SCHEDULED and item.due_at == at(2) and item.attempts == 0
    assert item.last_error is None and item.slot_at == at(0.5)
    _claim(store, at(2))
    store.post_failed(item_id, "too long", final_state=ItemState.NEEDS_REVIEW, index=1, now=at(2))
    assert store.get_item(item_id).state == ItemState.NEEDS_REVIEW
    assert store.retry(item_id, now=at(3)).state == ItemState.SCHEDULED
    assert [a.outcome for a in store.attempts(item_id)] == ["failed", "needs_review"]


def test_unknown_outcome_blocks_retry_until_resolved(store: Store) -> None:
    item_id = _queued(store)
    _claim(store)
    store.record_post(item_id, 1, "r1", None, at(0.5))
    store.post_failed(item_id, "connection dropped", final_state="needs_review", index=2, unknown=True, now=at(0.5))
    item = store.get_item(item_id)
    assert item.posts[1].state == PostState.UNKNOWN and item.next_post.index == 2
    with pytest.raises(InvalidTransition, match="crieur queue resolve"):
        store.retry(item_id, now=at(1))
    with pytest.raises(InvalidTransition, match="post 2 went out is unknown"):
        store.reschedule(item_id, at(3), now=at(1))
    with pytest.raises(StoreError, match="remote id"):
        store.resolve_post(item_id, 2, posted=True, now=at(1))
    item = store.resolve_post(item_id, 2, posted=True, remote_id="r2", url="https://x/r2", now=at(1))
    assert item.state == ItemState.SCHEDULED and item.due_at == at(0.5) and item.next_attempt_at == at(1)
    assert item.posts[1].state == PostState.POSTED and item.next_post.index == 3
    with pytest.raises(InvalidTransition, match="already posted"):
        store.resolve_post(item_id, 2, posted=False, now=at(1))
    _claim(store, at(1))
    store.post_failed(item_id, "dropped", final_state="needs_review", index=3, unknown=True, now=at(1))
    item = store.resolve_post(item_id, 3, posted=False, now=at(2))
    assert item.posts[2].state == PostState.PENDING and item.state == ItemState.SCHEDULED
    _claim(store, at(2))
    assert store.record_post(item_id, 3, "r3", None, at(2)).state == ItemState.PUBLISHED
    outcomes = [a.outcome for a in store.attempts(item_id)]
    assert outcomes == ["posted", "unknown", "resolved", "unknown", "resolved", "posted"]


def test_resolving_the_last_post_publishes_the_item(store: Store) -> None:
    item_id = store.enqueue(new_item(posts=["only"]), schedule=Hourly(), now=T0).item.id
    _claim(store)
    store.post_failed(item_id, "dropped", final_state="needs_review", index=1, unknown=True, now=at(0.5))
    assert store.resolve_post(item_id, 1, posted=True, remote_id="r", now=at(1)).state == ItemState.PUBLISHED


def test_cancel(store: Store) -> None:
    item_id = _queued(store)
    item = store.cancel(item_id, now=T0)
    assert item.state == ItemState.CANCELLED and item.slot_at is None
    assert store.claim_due(at(5), "n", LEASE) is None
    with pytest.raises(InvalidTransition, match=f"item {item_id} is cancelled; it cannot be cancelled"):
        store.cancel(item_id)
    with pytest.raises(InvalidTransition, match="cancelled; only failed or needs_review items can be retried"):
        store.retry(item_id)
    with pytest.raises(InvalidTransition, match="cancelled; it cannot be rescheduled"):
        store.reschedule(item_id, at(3))


def test_published_item_cannot_be_changed(store: Store) -> None:
    item_id = store.enqueue(new_item(posts=["only"]), schedule=Hourly(), now=T0).item.id
    _claim(store)
    store.record_post(item_id, 1, "r", None, at(0.5))
    with pytest.raises(InvalidTransition, match=f"^item {item_id} is published; it cannot be cancelled$"):
        store.cancel(item_id, now=at(1))
    with pytest.raises(InvalidTransition, match="published; only failed"):
        store.retry(item_id, now=at(1))
    with pytest.raises(InvalidTransition, match="published; it cannot be rescheduled"):
        store.reschedule(item_id, at(3), now=at(1))
    with pytest.raises(InvalidTransition, match="published; its posts cannot be resolved"):
        store.resolve_post(item_id, 1, posted=False, now=at(1))


def test_item_being_published_cannot_be_cancelled_until_its_lease_expires(store: Store) -> None:
    item_id = _queued(store)
    _claim(store)
    with pytest.raises(InvalidTransition, match="being published right now"):
        store.cancel(item_id, now=at(0.5))
    with pytest.raises(InvalidTransition, match="being published right now"):
        store.reschedule(item_id, at(3), now=at(0.5))
    with pytest.raises(InvalidTransition, match="scheduled; only failed"):
        store.retry(_queued(store, "b.txt"), now=at(0.5))
    # the holder died: once the lease is over, a person may cancel it
    assert store.cancel(item_id, now=at(0.5) + LEASE + timedelta(seconds=1)).state == ItemState.CANCELLED


def test_post_failed_needs_a_publishing_item_held_by_the_caller(store: Store) -> None:
    item_id = _queued(store)
    with pytest.raises(InvalidTransition, match="is scheduled; only a publishing item can fail"):
        store.post_failed(item_id, "x", now=at(0.5))
    _claim(store)
    with pytest.raises(LeaseLost):
        store.post_failed(item_id, "x", holder="node-2", now=at(0.5))
    with pytest.raises(ValueError):
        store.post_failed(item_id, "x", final_state="published", now=at(0.5))


def test_reschedule_moves_an_item_and_frees_its_slot(store: Store) -> None:
    item_id = _queued(store)
    item = store.reschedule(item_id, at(24), now=T0)
    assert item.due_at == at(24) and item.slot_at is None and item.state == ItemState.SCHEDULED
    assert store.claim_due(at(1), "n", LEASE) is None
    assert _claim(store, at(24)).id == item_id
    store.post_failed(item_id, "auth", final_state="failed", now=at(24))
    item = store.reschedule(item_id, at(30), now=at(25))
    assert item.state == ItemState.SCHEDULED and item.attempts == 0 and item.due_at == at(30)


def test_unknown_ids(store: Store) -> None:
    for call in (store.get_item, store.cancel, store.retry):
        with pytest.raises(NoSuchItem, match="^no item 12$"):
            call(12)
    with pytest.raises(NoSuchItem, match="^no item 12$"):
        store.reschedule(12, at(1))
    with pytest.raises(NoSuchItem):
        store.record_post(12, 1, "r", None, at(1))
    with pytest.raises(StoreError, match="no item 12"):
        store.record_attempt(12, "deferred")


def test_history_can_be_written_and_pruned(store: Store) -> None:
    item_id = _queued(store)
    store.record_attempt(item_id, "deferred", "budget too low for 3 posts", now=T0)
    _claim(store)
    store.record_post(item_id, 1, "r1", None, at(0.5), now=at(0.5))
    assert [a.outcome for a in store.attempts(item_id)] == ["deferred", "posted"]
    assert store.attempts(item_id)[0].at == T0 and store.attempts(item_id)[0].account == "desk-x"
    assert store.prune_attempts(at(0.25)) == 1
    assert [a.outcome for a in store.attempts(item_id)] == ["posted"]


def test_write_ahead_marks_a_post_unknown_until_settled(store: Store) -> None:
    item_id = _queued(store)
    _claim(store)
    store.mark_sending(item_id, 1, "node-1", now=at(0.5))
    assert store.get_item(item_id).posts[0].state == PostState.UNKNOWN
    assert store.mark_not_sent(item_id, 1, "node-1", now=at(0.5)) is True
    assert store.get_item(item_id).posts[0].state == PostState.PENDING
    store.mark_sending(item_id, 1, "node-1", now=at(0.5))
    store.record_post(item_id, 1, "r1", None, at(0.5))
    assert store.mark_not_sent(item_id, 1, "node-1") is False  # posted stays posted
    with pytest.raises(StoreError, match="already posted"):
        store.mark_sending(item_id, 1, "node-1")
    with pytest.raises(LeaseLost):
        store.mark_sending(item_id, 2, "node-2")
    # the process dies after marking post 2: whoever takes over sees it unknown
    store.mark_sending(item_id, 2, "node-1", now=at(0.5))
    taken = store.claim_due(at(0.5) + LEASE, "node-2", LEASE)
    assert taken.next_post.index == 2 and taken.next_post.state == PostState.UNKNOWN
    assert store.mark_not_sent(item_id, 2, "node-1") is False  # node-1 no longer holds it
    assert store.get_item(item_id).posts[1].state == PostState.UNKNOWN


def test_reslot_moves_a_missed_item_to_the_next_free_slot(store: Store) -> None:
    first = _queued(store, "a.txt")
    second = _queued(store, "b.txt")
    item = store.reslot(first, Hourly(), now=at(0.75))  # 09:00 was missed
    assert item.slot_at == item.due_at == at(2.5) and item.state == ItemState.SCHEDULED
    assert store.get_item(second).slot_at == at(1.5)
    store.claim_due(at(1.5), "n", LEASE)
    with pytest.raises(InvalidTransition, match="only a scheduled item can be re-slotted"):
        store.reslot(second, Hourly(), now=at(1.5))
