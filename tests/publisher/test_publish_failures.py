"""Failures injected by the fake servers in the middle of a thread, and the resume that follows."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from bot.publisher import Publisher
from bot.store import ItemState, PostState
from tests.publisher.conftest import ACCOUNTS, HOLDER, LEASE, World, fail_at
from tests.publisher.test_publish_threads import assert_chain

NETWORKED = ["x", "mastodon", "bluesky"]


def later(moment: datetime, seconds: float = 1) -> datetime:
    return moment + timedelta(seconds=seconds)


def states(world: World, item_id: int) -> list[str]:
    return [p.state.value for p in world.item(item_id).posts]


def outcomes(world: World, item_id: int) -> list[str]:
    return [a.outcome for a in world.store.attempts(item_id)]


# -- 5xx ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", NETWORKED)
def test_a_server_error_mid_thread_retries_later_from_the_next_post(world: World, platform: str) -> None:
    item_id = world.enqueue(platform)
    fail_at(world.servers[platform], 4, "server_error")
    before = datetime.now(timezone.utc)
    result = world.run(expect=item_id)
    after = datetime.now(timezone.utc)
    assert result.outcome == "retry"

    item = world.item(item_id)
    assert item.state == ItemState.SCHEDULED
    assert states(world, item_id) == ["posted"] * 3 + ["pending"] * 7
    assert item.attempts == 1
    # Backoff: 30 s for the first retry (less up to 20 % of jitter), persisted in the store.
    assert before + timedelta(seconds=24) <= item.next_attempt_at <= after + timedelta(seconds=30)
    assert item.last_error and "post 4" in item.last_error
    assert world.claim() is None, "not before next_attempt_at"
    assert len(world.servers[platform].posts()) == 3

    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    assert_chain(world, platform, item_id)
    assert outcomes(world, item_id) == ["posted"] * 3 + ["retry"] + ["posted"] * 7


@pytest.mark.parametrize("platform", NETWORKED)
def test_server_errors_back_off_exponentially_then_fail_after_max_attempts(world: World, platform: str) -> None:
    item_id = world.enqueue(platform)  # the campaign allows 3 attempts
    fail_at(world.servers[platform], 2, "server_error", count=3)
    assert world.run(expect=item_id).outcome == "retry"
    first = world.item(item_id)
    assert first.attempts == 1

    claimed_at = later(first.next_attempt_at)
    assert world.run(claimed_at, expect=item_id).outcome == "retry"
    second = world.item(item_id)
    assert second.attempts == 2
    wait = second.next_attempt_at - datetime.now(timezone.utc)
    assert timedelta(seconds=47) <= wait <= timedelta(seconds=60), "the delay doubled (60 s, jittered)"

    result = world.run(later(second.next_attempt_at), expect=item_id)
    assert result.outcome == "failed"
    failed = world.item(item_id)
    assert failed.state == ItemState.FAILED and failed.attempts == 3
    assert "gave up after 3 attempts" in failed.last_error
    assert states(world, item_id) == ["posted"] + ["pending"] * 9
    assert outcomes(world, item_id) == ["posted", "retry", "retry", "failed"]
    assert len(world.servers[platform].posts()) == 1


# -- 429 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", NETWORKED)
def test_a_rate_limit_pauses_the_account_until_the_reset_while_others_go_on(world: World, platform: str) -> None:
    server = world.servers[platform]
    item_id = world.enqueue(platform)
    other_id = world.enqueue("dryrun", paragraphs=2)
    fail_at(server, 5, "rate_limit")
    result = world.run(expect=item_id)
    assert result.outcome == "paused"

    state = world.store.account_state(ACCOUNTS[platform])
    reset = server.rate_limit_reset
    assert state.paused_until is not None and abs((state.paused_until - reset).total_seconds()) <= 2
    assert "rate limited" in state.pause_reason
    item = world.item(item_id)
    assert item.state == ItemState.SCHEDULED
    assert item.attempts == 0, "a rate limit is not the thread's failure"
    assert states(world, item_id) == ["posted"] * 4 + ["pending"] * 6
    assert outcomes(world, item_id)[-1] == "rate_limited"

    # The item waits; another account's item still goes out now.
    assert world.run(expect=other_id).outcome == "published"
    assert world.claim() is None
    assert world.store.next_due_at() == state.paused_until
    assert world.claim(state.paused_until - timedelta(seconds=1)) is None

    assert world.run(later(state.paused_until), expect=item_id).outcome == "published"
    assert_chain(world, platform, item_id)


def test_a_budget_too_small_for_the_whole_thread_defers_it_to_the_reset(world: World) -> None:
    reset = (datetime.now(timezone.utc) + timedelta(minutes=10)).replace(microsecond=0)
    world.store.set_rate_limit(ACCOUNTS["mastodon"], {"X-RateLimit-Remaining": "3",
                                                      "X-RateLimit-Reset": reset.isoformat()})
    item_id = world.enqueue("mastodon")
    result = world.run(expect=item_id)
    assert result.outcome == "deferred"
    assert world.servers["mastodon"].posts() == [], "no fragment of the thread before the reset"
    item = world.item(item_id)
    assert item.state == ItemState.SCHEDULED and item.attempts == 0
    assert world.store.account_state(ACCOUNTS["mastodon"]).paused_until == reset
    assert outcomes(world, item_id) == ["deferred"]
    # After the reset (the publisher's clock says so too), the stale budget no longer applies.
    after_reset = later(reset)
    world.publisher = Publisher(world.store, world.publisher.campaigns, world.pool, holder=HOLDER, lease=LEASE,
                                clock=lambda: after_reset)
    assert world.run(after_reset, expect=item_id).outcome == "published"
    assert_chain(world, "mastodon", item_id)


# -- 401 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", NETWORKED)
def test_refused_credentials_pause_the_account_and_keep_the_thread(world: World, platform: str) -> None:
    item_id = world.enqueue(platform)
    fail_at(world.servers[platform], 3, "unauthorized")
    result = world.run(expect=item_id)
    assert result.outcome == "paused"

    account = ACCOUNTS[platform]
    state = world.store.account_state(account)
    assert state.pause_reason and state.paused_until is None, "paused until a person resumes it"
    for text in (state.pause_reason, world.item(item_id).last_error):
        assert f"refused the credentials of {account}" in text
        assert f"crieur accounts resume {account}" in text
    item = world.item(item_id)
    assert item.state == ItemState.SCHEDULED
    assert states(world, item_id) == ["posted"] * 2 + ["pending"] * 8
    far = datetime.now(timezone.utc) + timedelta(days=1)
    assert world.claim(far) is None, "nothing of a paused account is claimed"

    world.store.resume_account(account)  # what `crieur accounts resume` does once fixed
    assert world.run(expect=item_id).outcome == "published"
    assert_chain(world, platform, item_id)


def test_a_missing_credential_pauses_the_account_naming_the_variable(make_world) -> None:
    world = make_world(env={"T_M_TOKEN": "x"})  # the X variables are unset
    item_id = world.enqueue("x")
    assert world.run(expect=item_id).outcome == "paused"
    reason = world.store.account_state(ACCOUNTS["x"]).pause_reason
    assert "environment variables T_X_" in reason and "are not set" in reason  # all of them, at once
    assert world.servers["x"].posts() == []


# -- duplicate ---------------------------------------------------------------------------------


def test_a_duplicate_refusal_needs_review_with_the_platforms_reason(world: World) -> None:
    item_id = world.enqueue("x")
    fail_at(world.servers["x"], 6, "duplicate")
    result = world.run(expect=item_id)
    assert result.outcome == "needs_review"
    item = world.item(item_id)
    assert item.state == ItemState.NEEDS_REVIEW
    assert "duplicate" in item.last_error and "You are not allowed to create a Tweet with duplicate content" \
        in item.last_error
    assert "post 6" in item.last_error
    assert states(world, item_id) == ["posted"] * 5 + ["pending"] * 5
    assert outcomes(world, item_id)[-1] == "needs_review"
    world.store.retry(item_id)  # a person had a look: go on
    assert world.run(expect=item_id).outcome == "published"
    assert_chain(world, "x", item_id)


# -- the connection drops after the platform stored the post ---------------------------------


@pytest.mark.parametrize("platform", NETWORKED)
def test_a_dropped_connection_is_settled_by_looking_not_by_posting_again(world: World, platform: str) -> None:
    server = world.servers[platform]
    item_id = world.enqueue(platform)
    fail_at(server, 4, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    assert states(world, item_id) == ["posted"] * 3 + ["unknown"] + ["pending"] * 6
    assert len(server.posts()) == 4, "the fake stored post 4 before dropping the connection"
    assert outcomes(world, item_id)[-1] == "unknown"

    item = world.item(item_id)
    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    assert_chain(world, platform, item_id)  # exactly 10 posts on the server: post 4 once


def test_mastodon_repeats_an_undecidable_post_under_the_same_idempotency_key(world: World) -> None:
    server = world.servers["mastodon"]
    item_id = world.enqueue("mastodon")
    fail_at(server, 4, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    server.fail_lookups = True  # the recent statuses cannot be read either
    item = world.item(item_id)
    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    assert_chain(world, "mastodon", item_id)
    assert len(server.statuses) == 10, "the repeated key gave back the first status"


def test_x_post_in_doubt_that_cannot_be_looked_up_needs_review_then_resolve_continues(world: World) -> None:
    server = world.servers["x"]
    item_id = world.enqueue("x")
    fail_at(server, 4, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    server.fail_lookups = True
    item = world.item(item_id)
    result = world.run(later(item.next_attempt_at), expect=item_id)
    assert result.outcome == "needs_review"
    item = world.item(item_id)
    assert item.state == ItemState.NEEDS_REVIEW
    assert f"crieur queue resolve {item_id} --posted URL" in item.last_error
    assert len(server.posts()) == 4, "never posted twice"

    # A person finds post 4 on the account and says so.
    fourth = server.posts()[3]
    done = subprocess.run(
        [sys.executable, "-m", "bot", "queue", "resolve", str(item_id), "--posted",
         f"https://x.com/{server.username}/status/{fourth.id}", "--db", world.store_url],
        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "continues with post 5" in done.stdout
    resolved = world.item(item_id)
    assert resolved.state == ItemState.SCHEDULED
    assert resolved.posts[3].state == PostState.POSTED and resolved.posts[3].remote_id == fourth.id

    server.fail_lookups = False
    assert world.run(expect=item_id).outcome == "published"
    assert_chain(world, "x", item_id)
    assert "resolved" in outcomes(world, item_id)


def test_an_unknown_post_found_missing_on_x_is_posted_once(world: World) -> None:
    """A request that timed out before X stored anything: the lookup says no, so it is sent."""
    server = world.servers["x"]
    item_id = world.enqueue("x", paragraphs=3)
    fail_at(server, 2, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    # Take the stored tweet away, as if the platform had not kept it after all.
    with server.lock:
        server.stored.pop()
        server.tweets.pop()
    item = world.item(item_id)
    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    assert_chain(world, "x", item_id, count=3)


# -- the history, and secrets ------------------------------------------------------------------


def test_the_history_records_every_attempt(world: World) -> None:
    server = world.servers["mastodon"]
    item_id = world.enqueue("mastodon", paragraphs=4)
    fail_at(server, 2, "server_error")
    world.run(expect=item_id)
    item = world.item(item_id)
    fail_at(server, 1, "drop_after_store")
    world.run(later(item.next_attempt_at), expect=item_id)
    item = world.item(item_id)
    world.run(later(item.next_attempt_at), expect=item_id)
    history = world.store.attempts(item_id)
    assert [(a.post_index, a.outcome) for a in history] == [
        (1, "posted"), (2, "retry"), (2, "unknown"), (2, "posted"), (3, "posted"), (4, "posted")]
    assert all(a.account == ACCOUNTS["mastodon"] for a in history)
    assert history[0].remote_id == world.item(item_id).posts[0].remote_id
    assert "503" in history[1].message
    assert "outcome unknown" in history[2].message


@pytest.mark.parametrize("platform", NETWORKED)
def test_tokens_never_reach_the_store_or_the_log(world: World, platform: str, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    server = world.servers[platform]
    item_id = world.enqueue(platform, paragraphs=4)
    fail_at(server, 2, "server_error")
    world.run(expect=item_id)
    fail_at(server, 1, "unauthorized")
    world.run(later(world.item(item_id).next_attempt_at), expect=item_id)
    world.store.resume_account(ACCOUNTS[platform])
    fail_at(server, 1, "rate_limit")
    world.run(expect=item_id)
    reset = world.store.account_state(ACCOUNTS[platform]).paused_until
    assert world.run(later(reset), expect=item_id).outcome == "published"

    texts = [caplog.text, world.item(item_id).last_error or "",
             world.store.account_state(ACCOUNTS[platform]).pause_reason or ""]
    texts += [a.message or "" for a in world.store.attempts(item_id)]
    assert "refused the credentials" in "\n".join(texts)
    for secret in world.secrets():
        for text in texts:
            assert secret not in text


def test_wrong_credentials_are_reported_without_the_token(make_world, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "WRONG-mastodon-token-3c9d1e"
    world = make_world(env={"T_M_TOKEN": wrong})
    item_id = world.enqueue("mastodon", paragraphs=2)
    assert world.run(expect=item_id).outcome == "paused"
    item = world.item(item_id)
    assert "401" in item.last_error
    for text in (caplog.text, item.last_error, *(a.message or "" for a in world.store.attempts(item_id))):
        assert wrong not in text


@pytest.mark.parametrize("mastodon_flavour", ["hollo"])
@pytest.mark.parametrize("refused", [False, True])
def test_on_hollo_a_first_post_in_doubt_is_settled_once(world: World, refused: bool) -> None:
    """Post 1 stored, then the connection dropped. The lookup (`exclude_reblogs=true`, the source
    text compared) finds it; a refused lookup (400) is not a refused post: the outcome stays
    unknown and the same Idempotency-Key makes the repeat safe. Either way: one status."""
    server = world.servers["mastodon"]
    item_id = world.enqueue("mastodon", paragraphs=3)
    fail_at(server, 1, "drop_after_store")
    assert world.run(expect=item_id).outcome == "retry"
    server.refuse_lookups = refused
    item = world.item(item_id)
    assert world.run(later(item.next_attempt_at), expect=item_id).outcome == "published"
    assert_chain(world, "mastodon", item_id, count=3)
    assert len(server.statuses) == 3
