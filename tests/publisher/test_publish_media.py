"""The article's media go with the first post, with their alt text; a changed file stops the thread."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.store import ItemState
from tests.publisher.conftest import World, fail_at
from tests.publisher.test_publish_threads import assert_chain, dryrun_entries


def media_path(world: World, item_id: int) -> Path:
    [media] = world.item(item_id).media
    return Path(media["path"])


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky"])
def test_the_first_post_carries_the_image_with_its_alt_text(world: World, platform: str) -> None:
    item_id = world.enqueue(platform, paragraphs=3, media=True)
    assert world.run(expect=item_id).outcome == "published"
    assert_chain(world, platform, item_id, count=3)
    posts = world.servers[platform].posts()
    assert posts[0].media_alts == ("Chart of the river level, 1",)
    assert all(p.media_alts == () for p in posts[1:])


def test_dryrun_records_the_upload_and_its_alt_text(world: World) -> None:
    item_id = world.enqueue("dryrun", paragraphs=2, media=True)
    assert world.run(expect=item_id).outcome == "published"
    rows = [json.loads(line) for line in world.dryrun_path.read_text(encoding="utf-8").splitlines()]
    uploads = [r for r in rows if "media_id" in r]
    assert [u["alt"] for u in uploads] == ["Chart of the river level, 1"]
    first, second = dryrun_entries(world.dryrun_path)
    assert first["media_ids"] == [uploads[0]["media_id"]] and second["media_ids"] == []


@pytest.mark.parametrize("platform", ["x", "mastodon"])
def test_a_failed_first_post_uploads_again_and_posts_the_image_once(world: World, platform: str) -> None:
    server = world.servers[platform]
    item_id = world.enqueue(platform, paragraphs=2, media=True)
    fail_at(server, 1, "server_error")
    assert world.run(expect=item_id).outcome == "retry"
    item = world.item(item_id)
    assert item.posts[0].state == "pending", "a refused request leaves no doubt"
    assert world.run(item.next_attempt_at + timedelta(seconds=1), expect=item_id).outcome == "published"
    posts = server.posts()
    assert len(posts) == 2 and posts[0].media_alts == ("Chart of the river level, 1",)


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky", "dryrun"])
def test_a_media_file_changed_after_enqueue_needs_review_and_nothing_goes_out(world: World, platform: str) -> None:
    item_id = world.enqueue(platform, paragraphs=3, media=True)
    path = media_path(world, item_id)
    path.write_bytes(path.read_bytes() + b"edited")
    result = world.run(expect=item_id)
    assert result.outcome == "needs_review"
    item = world.item(item_id)
    assert item.state == ItemState.NEEDS_REVIEW
    assert "changed since the thread was queued" in item.last_error and str(path) in item.last_error
    assert item.posted_count == 0
    if platform == "dryrun":
        assert not world.dryrun_path.exists()
    else:
        assert world.servers[platform].posts() == []


def test_a_media_file_gone_after_enqueue_needs_review(world: World) -> None:
    item_id = world.enqueue("mastodon", paragraphs=2, media=True)
    media_path(world, item_id).unlink()
    assert world.run(expect=item_id).outcome == "needs_review"
    assert "is missing" in world.item(item_id).last_error
    assert world.servers["mastodon"].posts() == []


@pytest.mark.parametrize("mastodon_flavour", ["hollo"])
def test_a_thread_with_an_image_on_a_server_as_strict_as_hollo(world: World) -> None:
    """JSON booleans only, media ids only in a JSON body, UUID ids: the image and its alt arrive."""
    item_id = world.enqueue("mastodon", paragraphs=3, media=True)
    assert world.run(expect=item_id).outcome == "published"
    assert_chain(world, "mastodon", item_id, count=3)
    posts = world.servers["mastodon"].posts()
    assert posts[0].media_alts == ("Chart of the river level, 1",)
    assert all(len(p.id) == 36 for p in posts), "Hollo's status ids are UUIDs"
