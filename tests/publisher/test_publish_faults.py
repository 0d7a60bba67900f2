"""Faults that are not the platform's: store faults, X's lagging timeline, credentials with control
characters, and a credentials pause (none of them may use up an attempt or leave an unsent post in doubt)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import OperationalError

from bot.store import ItemState, PostState, StoreUnavailable
from tests.publisher.conftest import ACCOUNTS, World, fail_at
from tests.publisher.test_publish_threads import assert_chain


def later(moment: datetime, seconds: float = 1) -> datetime:
    return moment + timedelta(seconds=seconds)


class _BreakingStore:
    """Wraps the World's store: during the `nth` call of `method`, the database connection fails
    as a dropped PostgreSQL connection does (SQLAlchemy's OperationalError carrying the SQL),
    through the store's real code."""

    def __init__(self, store, method: str, nth: int = 1) -> None:
        self._store, self._method, self._left = store, method, nth

    def __getattr__(self, name: str):
        real = getattr(self._store, name)
        if name != self._method:
            return real

        def call(*args, **kwargs):
            self._left -= 1
            if self._left != 0:
                return real(*args, **kwargs)
            engine = self._store.engine

            def broken(*_a, **_k):
                raise OperationalError("UPDATE items SET state=%(state)s", {"state": "secret text"},
                                       Exception("server closed the connection unexpectedly"))

            engine.connect = broken
            try:
                return real(*args, **kwargs)
            finally:
                del engine.connect

        return call


@pytest.mark.parametrize("platform", ["x", "mastodon"])
def test_a_store_fault_before_a_send_is_no_attempt_and_leaves_nothing_in_doubt(make_world, platform: str,
                                                                                 caplog) -> None:
    # With a spacing, each post has its own write-ahead (with none, it shares the commit that
    # records the previous post: test_a_store_fault_in_the_one_commit_path_… below).
    world = make_world(spacing="10ms")
    item_id = world.enqueue(platform, paragraphs=4)
    real = world.publisher.store
    world.publisher.store = _BreakingStore(real, "mark_sending", nth=3)  # post 3's write-ahead fails
    item = world.claim()
    assert item is not None
    with caplog.at_level(logging.INFO), pytest.raises(StoreUnavailable) as fault:
        world.publisher.publish(item)
    assert "server closed the connection unexpectedly" in str(fault.value)
    assert "UPDATE" not in str(fault.value) and "secret text" not in str(fault.value)
    world.publisher.store = real
    after = world.item(item_id)
    assert after.attempts == 0 and after.last_error is None
    assert [p.state for p in after.posts] == [PostState.POSTED] * 2 + [PostState.PENDING] * 2, "never unknown"
    assert "unexpected" not in caplog.text
    assert all(a.outcome == "posted" for a in world.store.attempts(item_id))
    # The lease runs out (its holder could not release it) and the thread resumes where it was.
    assert world.run(later(after.lease_expires_at), expect=item_id).outcome == "published"
    assert_chain(world, platform, item_id, count=4)


def test_a_store_fault_after_a_send_leaves_the_post_in_doubt_and_it_is_settled_not_reposted(make_world) -> None:
    world = make_world(spacing="10ms")  # the general path: record_post, then the next write-ahead
    item_id = world.enqueue("x", paragraphs=3)
    real = world.publisher.store
    world.publisher.store = _BreakingStore(real, "record_post", nth=2)  # post 2 went out, not recorded
    item = world.claim()
    with pytest.raises(StoreUnavailable):
        world.publisher.publish(item)
    world.publisher.store = real
    after = world.item(item_id)
    assert after.attempts == 0 and after.state == ItemState.PUBLISHING
    assert after.posts[1].state == PostState.UNKNOWN
    assert world.run(later(after.lease_expires_at), expect=item_id).outcome == "published"
    assert_chain(world, "x", item_id, count=3)  # post 2 found on X, not posted twice


@pytest.mark.parametrize("platform", ["x", "mastodon"])
def test_a_store_fault_in_the_one_commit_path_leaves_only_the_sent_post_in_doubt(world: World, platform: str) -> None:
    """spacing 0s: post 2 is recorded together with post 3's write-ahead; that commit fails."""
    item_id = world.enqueue(platform, paragraphs=4)
    real = world.publisher.store
    world.publisher.store = _BreakingStore(real, "record_and_continue", nth=2)
    item = world.claim()
    with pytest.raises(StoreUnavailable):
        world.publisher.publish(item)
    world.publisher.store = real
    after = world.item(item_id)
    assert after.attempts == 0 and after.last_error is None
    # Post 2 went out; its write-ahead (committed with post 1) says so: in doubt. Post 3 was never marked.
    assert [p.state for p in after.posts] == [PostState.POSTED, PostState.UNKNOWN, PostState.PENDING,
                                              PostState.PENDING]
    assert world.run(later(after.lease_expires_at), expect=item_id).outcome == "published"
    assert_chain(world, platform, item_id, count=4)  # settled (found, or same idempotency key), not reposted


def test_x_duplicate_after_a_lagging_lookup_is_found_or_needs_review_with_the_command(world: World) -> None:
    server = world.servers["x"]
    item_id = world.enqueue("x", paragraphs=4)
    fail_at(server, 3, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    server.timeline_lag = 1  # the timeline does not show post 3 yet
    item = world.item(item_id)
    result = world.run(later(item.next_attempt_at), expect=item_id)
    # Lookup empty -> sent again -> X refuses it as a duplicate -> still not visible: a person decides.
    assert result.outcome == "needs_review"
    item = world.item(item_id)
    assert f"crieur queue resolve {item_id} --post 3 --posted URL" in item.last_error
    assert item.posts[2].state == PostState.UNKNOWN, "retry must not loop on the same refusal"
    assert len(server.posts()) == 3, "never posted twice"
    with pytest.raises(Exception, match="queue resolve"):
        world.store.retry(item_id)


def test_x_duplicate_after_a_lagging_lookup_is_recorded_once_visible(world: World) -> None:
    server = world.servers["x"]
    item_id = world.enqueue("x", paragraphs=4)
    fail_at(server, 3, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"

    calls = {"n": 0}
    original = server.user_tweets

    def lagging_once(request, groups):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        server.timeline_lag = 1 if calls["n"] == 1 else 0  # the first lookup is too early
        return original(request, groups)

    server.user_tweets = lagging_once  # type: ignore[method-assign]
    item = world.item(item_id)
    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    assert_chain(world, "x", item_id, count=4)


def test_the_lookup_of_a_reply_in_doubt_reads_past_a_busy_timeline(world: World) -> None:
    """Post k > 1 is looked for among everything posted after post k-1, not in the last 20 posts."""
    server = world.servers["x"]
    item_id = world.enqueue("x", paragraphs=3)
    fail_at(server, 2, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    with server.lock:  # 60 other posts of the account since (another tool, a person)
        for n in range(60):
            server._next_id += 1
            server.tweets.append({"id": str(server._next_id), "text": f"other {n}", "reply_to": None,
                                  "media_ids": []})
    item = world.item(item_id)
    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    mine = [p for p in server.posts()]
    assert len(mine) == 3, "post 2 found, not sent again"


def test_a_credentials_pause_uses_no_attempt(world: World) -> None:
    item_id = world.enqueue("mastodon", paragraphs=3)
    fail_at(world.servers["mastodon"], 2, "unauthorized")
    assert world.run(expect=item_id).outcome == "paused"
    item = world.item(item_id)
    assert item.attempts == 0
    assert [a.outcome for a in world.store.attempts(item_id)][-1] == "paused"


def test_a_token_with_a_carriage_return_is_stripped_said_and_never_leaks(make_world, caplog) -> None:
    probe = make_world()
    env = dict(probe.env)
    token = env["T_M_TOKEN"]
    env["T_M_TOKEN"] = token + "\r"  # a Windows-edited env file
    world = make_world(env=env)
    item_id = world.enqueue("mastodon", paragraphs=2)
    with caplog.at_level(logging.DEBUG):
        assert world.run(expect=item_id).outcome == "published"
    assert "T_M_TOKEN had whitespace around it" in caplog.text
    assert token not in caplog.text


def test_a_token_with_a_control_character_inside_is_refused_naming_the_variable(make_world, caplog) -> None:
    probe = make_world()
    env = dict(probe.env)
    env["T_M_TOKEN"] = env["T_M_TOKEN"][:5] + "\r" + env["T_M_TOKEN"][5:]
    world = make_world(env=env)
    item_id = world.enqueue("mastodon", paragraphs=2)
    with caplog.at_level(logging.DEBUG):
        result = world.run(expect=item_id)
    assert result.outcome == "paused"
    item = world.item(item_id)
    reason = world.store.account_state(ACCOUNTS["mastodon"]).pause_reason
    assert "T_M_TOKEN contains a control character" in reason
    assert all(p.state == PostState.PENDING for p in item.posts), "never sent, so never unknown"
    secret = env["T_M_TOKEN"]
    for text in (caplog.text, reason, item.last_error or ""):
        assert secret not in text and secret.strip() not in text
    assert item.attempts == 0


def test_redaction_covers_stripped_url_encoded_and_escaped_forms() -> None:
    from urllib.parse import quote

    from bot.adapters.errors import redact

    secret = "tok/en+\r"
    text = f"a {secret} b {secret.strip()} c {quote(secret, safe='')} d {secret!r} e Bearer {secret.strip()}"
    out = redact(text, [secret])
    assert "tok" not in out, out


def test_mastodon_reply_in_doubt_is_found_in_its_parents_context_past_a_busy_timeline(world: World) -> None:
    """Post k > 1 is looked for among the replies to post k-1 (/context), not in the last 40
    statuses: here the idempotency key no longer protects it (forgotten by the server)."""
    server = world.servers["mastodon"]
    item_id = world.enqueue("mastodon", paragraphs=3)
    fail_at(server, 2, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    with server.lock:
        server.by_key.clear()  # past the key's validity: a repeat would post again
        for n in range(60):  # a busy account since
            server._next_id += 1
            server.statuses.append({**server.statuses[0], "id": str(server._next_id), "in_reply_to_id": None,
                                    "content": f"<p>other {n}</p>"})
    item = world.item(item_id)
    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    texts = [s["content"] for s in server.statuses]
    assert len([t for t in texts if "other" not in t]) == 3, "post 2 found, not sent again"


def test_x_first_post_in_doubt_is_looked_for_since_the_thread_was_queued(world: World) -> None:
    """Post 1 in doubt on a busy account: found among every post since the enqueue, not only the last 20."""
    server = world.servers["x"]
    item_id = world.enqueue("x", paragraphs=2)
    fail_at(server, 1, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    stamp = server.tweets[-1]["created_at"]
    with server.lock:
        for n in range(60):
            server._next_id += 1
            server.tweets.append({"id": str(server._next_id), "text": f"other {n}", "reply_to": None,
                                  "media_ids": [], "created_at": stamp})
    item = world.item(item_id)
    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    assert len(server.posts()) == 2, "post 1 found, not sent again"
