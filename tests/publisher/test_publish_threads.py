"""Whole threads through the Publisher, the real adapters and the real store, checked on the server side."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.campaign import load_campaign
from bot.store import ItemState, PostState
from tests.publisher.conftest import ACCOUNTS, LEASE, World, write_campaign

PLATFORMS = ["x", "mastodon", "bluesky", "dryrun"]


def dryrun_entries(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if "idempotency_key" in row]


def assert_chain(world: World, platform: str, item_id: int, count: int = 10) -> None:
    """The platform holds exactly the thread, each post replying to the one before, as the store says."""
    item = world.item(item_id)
    assert item.state == ItemState.PUBLISHED
    assert [p.state for p in item.posts] == [PostState.POSTED] * count
    if platform == "dryrun":
        entries = dryrun_entries(world.dryrun_path)
        remote = [(e["id"], e["reply_to"], e["text"]) for e in entries]
    else:
        remote = [(p.id, p.reply_to, p.text) for p in world.servers[platform].posts()]
    assert len(remote) == count, "exactly one remote post per post of the thread"
    assert [r[0] for r in remote] == [p.remote_id for p in item.posts]
    assert remote[0][1] is None
    for before, after in zip(remote, remote[1:]):
        assert after[1] == before[0], "each post replies to the previous one"
    if platform != "bluesky":  # Bluesky may shorten links; these texts have none anyway
        assert [r[2] for r in remote] == [p.text for p in item.posts]
    for post in item.posts:
        assert post.remote_id and post.posted_at is not None
        if platform != "dryrun":
            assert post.url and post.url.startswith("https://")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_ten_post_thread_goes_out_as_a_reply_chain(world: World, platform: str) -> None:
    item_id = world.enqueue(platform)
    result = world.run(expect=item_id)
    assert result.outcome == "published", result.message
    assert_chain(world, platform, item_id)
    history = world.store.attempts(item_id)
    assert [a.outcome for a in history] == ["posted"] * 10
    assert [a.post_index for a in history] == list(range(1, 11))
    assert [a.remote_id for a in history] == [p.remote_id for p in world.item(item_id).posts]
    assert world.claim() is None


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky"])
def test_dry_run_swaps_every_adapter_and_posts_nothing(make_world, platform: str) -> None:
    world = make_world(dry_run=True)
    item_id = world.enqueue(platform)
    assert world.run(expect=item_id).outcome == "published"
    assert world.servers[platform].posts() == []
    assert_chain(world, "dryrun", item_id)


def test_the_campaign_spacing_separates_the_posts(make_world) -> None:
    world = make_world(spacing="40ms")
    item_id = world.enqueue("dryrun", paragraphs=4)
    started = time.monotonic()
    assert world.run(expect=item_id).outcome == "published"
    assert time.monotonic() - started >= 3 * 0.04
    times = [p.posted_at for p in world.item(item_id).posts]
    assert all(b - a >= timedelta(milliseconds=35) for a, b in zip(times, times[1:]))


def test_a_stop_request_between_posts_hands_the_rest_back(make_world) -> None:
    world = make_world(spacing="50ms")
    item_id = world.enqueue("x")
    item = world.claim()
    timer = threading.Timer(0.12, world.publisher.stop.set)
    timer.start()
    result = world.publisher.publish(item)
    timer.join()
    assert result.outcome == "stopped"
    stopped = world.item(item_id)
    assert stopped.state == ItemState.SCHEDULED and stopped.lease_holder is None
    assert 1 <= stopped.posted_count < 10
    world.publisher.stop.clear()
    assert world.run(expect=item_id).outcome == "published"
    assert_chain(world, "x", item_id)


def test_another_holder_took_the_item_so_this_one_posts_nothing(world: World) -> None:
    item_id = world.enqueue("mastodon")
    mine = world.claim()
    later = datetime.now(timezone.utc) + LEASE + timedelta(seconds=1)
    theirs = world.store.claim_due(later, "other-node:2", LEASE)  # this holder's lease has run out
    assert theirs is not None and theirs.id == item_id
    result = world.publisher.publish(mine)
    assert result.outcome == "lost"
    assert world.servers["mastodon"].posts() == []
    assert world.item(item_id).lease_holder == "other-node:2"


def test_an_account_gone_from_the_campaign_needs_review_instead_of_looping(world: World, tmp_path: Path) -> None:
    item_id = world.enqueue("bluesky")
    smaller = load_campaign(write_campaign(tmp_path / "smaller.yaml", world.servers, drop=(ACCOUNTS["bluesky"],)))
    world.publisher.campaigns = {smaller.name: smaller}
    result = world.run(expect=item_id)
    assert result.outcome == "needs_review"
    item = world.item(item_id)
    assert item.state == ItemState.NEEDS_REVIEW
    assert "no longer in campaign desk" in item.last_error
    assert world.claim() is None


def test_a_campaign_not_served_here_is_handed_back_untouched(world: World) -> None:
    item_id = world.enqueue("dryrun")
    world.publisher.campaigns = {}
    result = world.run(expect=item_id)
    assert result.outcome == "stopped"
    item = world.item(item_id)
    assert item.state == ItemState.SCHEDULED and item.attempts == 0 and item.lease_holder is None


def test_a_dryrun_account_writes_to_its_output_file(world: World, tmp_path: Path) -> None:
    item_id = world.enqueue("dryrun", paragraphs=2)
    assert world.run(expect=item_id).outcome == "published"
    # `output: dryrun-out.jsonl` in the campaign, relative to the campaign file
    assert len(dryrun_entries(tmp_path / "dryrun-out.jsonl")) == 2
