"""A post in doubt on Mastodon-API servers that do and do not honour Idempotency-Key, over real HTTP:
GoToSocial ignores the key, so a failed lookup must never lead to a second send; Akkoma keeps the
first answer under a key (a 429 too), so a repeat is safe and a replayed refusal is moved past."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.store import ItemState, PostState
from tests.publisher.conftest import ACCOUNTS, World, fail_at
from tests.publisher.test_publish_threads import assert_chain


def later(item_next: object, seconds: float = 1) -> object:
    return item_next + timedelta(seconds=seconds)  # type: ignore[operator]


def _first_post_in_doubt(world: World, paragraphs: int = 3) -> int:
    """Post 1 stored on the server, then the connection dropped: the attempt ends in doubt."""
    item_id = world.enqueue("mastodon", paragraphs=paragraphs)
    fail_at(world.servers["mastodon"], 1, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    assert world.item(item_id).posts[0].state == PostState.UNKNOWN
    return item_id


@pytest.mark.parametrize("mastodon_flavour", ["gotosocial"])
def test_on_gotosocial_a_refused_lookup_sends_the_post_to_review_not_again(world: World) -> None:
    server = world.servers["mastodon"]
    item_id = _first_post_in_doubt(world)
    server.refuse_lookups = True
    result = world.run(later(world.item(item_id).next_attempt_at), expect=item_id)

    assert result.outcome == "needs_review"
    item = world.item(item_id)
    assert item.state == ItemState.NEEDS_REVIEW
    assert "lookup of recent statuses was refused" in item.last_error
    assert "does not honour Idempotency-Key" in item.last_error and "GoToSocial" in item.last_error
    assert item.posts[0].state == PostState.UNKNOWN, "still in doubt: a person settles it"
    assert len(server.statuses) == 1, "the status in doubt was not sent a second time"


@pytest.mark.parametrize("mastodon_flavour", ["gotosocial"])
def test_on_gotosocial_a_failing_lookup_is_retried_and_then_finds_the_post(world: World) -> None:
    server = world.servers["mastodon"]
    item_id = _first_post_in_doubt(world)
    server.fail_lookups = True  # 503 from the account-statuses lookup
    assert world.run(later(world.item(item_id).next_attempt_at), expect=item_id).outcome == "retry"
    item = world.item(item_id)
    assert item.posts[0].state == PostState.UNKNOWN and len(server.statuses) == 1
    assert "does not honour Idempotency-Key" in item.last_error

    server.fail_lookups = False
    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    assert_chain(world, "mastodon", item_id, count=3)
    assert len(server.statuses) == 3


@pytest.mark.parametrize("mastodon_flavour", ["akkoma"])
def test_on_akkoma_a_refused_lookup_repeats_under_the_same_key_and_posts_once(world: World) -> None:
    server = world.servers["mastodon"]
    item_id = _first_post_in_doubt(world)
    server.refuse_lookups = True
    assert world.run(later(world.item(item_id).next_attempt_at), expect=item_id).outcome == "published"
    assert_chain(world, "mastodon", item_id, count=3)
    assert len(server.statuses) == 3, "the repeat got the status created the first time"
    outcomes = [a.outcome for a in world.store.attempts(item_id)]
    assert outcomes == ["unknown", "posted", "posted", "posted"]


@pytest.mark.parametrize("mastodon_flavour", ["akkoma"])
def test_on_akkoma_a_rate_limit_replayed_under_the_key_does_not_block_the_thread(world: World) -> None:
    """Akkoma caches the 429 under the post's key for six hours: after the reset the same key gets
    the same 429 back. The adapter moves to the next key of the chain; one status per post."""
    server = world.servers["mastodon"]
    item_id = world.enqueue("mastodon", paragraphs=4)
    fail_at(server, 3, "rate_limit")
    assert world.run(expect=item_id).outcome == "paused"
    paused_until = world.store.account_state(ACCOUNTS["mastodon"]).paused_until
    assert paused_until is not None

    assert world.run(later(paused_until), expect=item_id).outcome == "published"
    assert_chain(world, "mastodon", item_id, count=4)
    assert len(server.statuses) == 4


@pytest.mark.parametrize("mastodon_flavour", ["mastodon", "hollo"])
def test_a_refused_lookup_repeats_under_the_key_only_while_the_server_keeps_it(world: World) -> None:
    """Mastodon and Hollo keep an Idempotency-Key for an hour: two hours after the first send a
    repeat could create a second status, so the post goes to a person instead."""
    from sqlalchemy import update

    from bot.store.schema import posts

    server = world.servers["mastodon"]
    item_id = _first_post_in_doubt(world)
    sent_at = world.item(item_id).posts[0].sent_at
    assert sent_at is not None
    with world.store.engine.begin() as conn:  # the first send was two hours ago
        conn.execute(update(posts).where(posts.c.item_id == item_id).values(sent_at=sent_at - timedelta(hours=2)))
    server.refuse_lookups = True
    result = world.run(later(world.item(item_id).next_attempt_at), expect=item_id)

    assert result.outcome == "needs_review"
    item = world.item(item_id)
    assert "first sent 120 min ago" in item.last_error and "keeps an idempotency key 1 h" in item.last_error
    assert item.posts[0].state == PostState.UNKNOWN
    assert len(server.statuses) == 1, "not sent again"


@pytest.mark.parametrize("mastodon_flavour", ["mastodon"])
def test_inside_the_keys_hour_a_refused_lookup_repeats_and_posts_once(world: World) -> None:
    server = world.servers["mastodon"]
    item_id = _first_post_in_doubt(world)
    server.refuse_lookups = True
    assert world.run(later(world.item(item_id).next_attempt_at), expect=item_id).outcome == "published"
    assert len(server.statuses) == 3
