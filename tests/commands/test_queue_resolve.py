"""`crieur queue resolve` and the history in `crieur queue show`, as real processes on a real store."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.store import ItemState, NewItem, PostState, Store, open_store

HOLDER = "cli-test:1"
LEASE = timedelta(seconds=30)


def crieur(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "crieur.db")


@pytest.fixture
def store(db: str):
    opened = open_store(db)
    yield opened
    opened.close()


def in_doubt(store: Store, platform: str = "x", *, posts: int = 4, posted: int = 2,
             remote_ids: list[str] | None = None) -> int:
    """An item whose first `posted` posts are out and whose next post is in doubt (needs_review)."""
    now = datetime.now(timezone.utc)
    campaign = f"desk{len(store.list_items())}"  # its own campaign: claim this item, not an earlier one
    outcome = store.enqueue(
        NewItem(campaign=campaign, account=f"desk-{platform}", platform=platform, source=f"a-{platform}.txt",
                content_hash="h", title="A title", posts=[f"post {n}" for n in range(1, posts + 1)],
                options={"timezone": "Europe/Paris"}),
        at=now)
    item = store.claim_due(now, HOLDER, LEASE, campaigns=[campaign])
    assert item is not None and item.id == outcome.item.id
    ids = remote_ids or [str(1850000000000000001 + n) for n in range(posted)]
    for n in range(posted):
        store.record_post(item.id, n + 1, ids[n], f"https://example.test/{ids[n]}", now)
    store.mark_sending(item.id, posted + 1, HOLDER)
    store.post_failed(item.id, "outcome unknown: connection dropped", final_state=ItemState.NEEDS_REVIEW,
                      index=posted + 1, unknown=True, holder=HOLDER)
    return item.id


def test_posted_records_the_post_and_the_thread_goes_on(store: Store, db: str, tmp_path: Path) -> None:
    item_id = in_doubt(store)
    done = crieur("queue", "resolve", str(item_id), "--posted", "https://x.com/desk/status/1850000000000000099",
                  "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"item {item_id} post 3 recorded as posted (1850000000000000099)" in done.stdout
    assert "continues with post 4, due now" in done.stdout
    item = store.get_item(item_id)
    assert item.state == ItemState.SCHEDULED
    assert item.next_attempt_at <= datetime.now(timezone.utc)
    third = item.posts[2]
    assert third.state == PostState.POSTED and third.remote_id == "1850000000000000099"
    assert third.url == "https://x.com/desk/status/1850000000000000099"
    assert store.attempts(item_id)[-1].outcome == "resolved"


def test_not_posted_makes_the_post_pending_again(store: Store, db: str, tmp_path: Path) -> None:
    item_id = in_doubt(store, "mastodon")
    done = crieur("queue", "resolve", str(item_id), "--not-posted", "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "recorded as not posted; it will be sent again" in done.stdout
    item = store.get_item(item_id)
    assert item.state == ItemState.SCHEDULED and item.posts[2].state == PostState.PENDING


def test_resolving_the_last_post_publishes_the_item(store: Store, db: str, tmp_path: Path) -> None:
    item_id = in_doubt(store, "mastodon", posts=3, posted=2)
    done = crieur("queue", "resolve", str(item_id), "--posted", "https://m.example/@desk/113000000000000042",
                  "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "thread is complete" in done.stdout
    item = store.get_item(item_id)
    assert item.state == ItemState.PUBLISHED and item.posts[2].remote_id == "113000000000000042"


def test_bluesky_urls_become_at_uris_with_the_threads_did(store: Store, db: str, tmp_path: Path) -> None:
    did = "did:plc:fakecrieur0000000000000a"
    ids = [f"at://{did}/app.bsky.feed.post/3kaaaaaaaaa2{n}" for n in range(2)]
    item_id = in_doubt(store, "bluesky", remote_ids=ids)
    done = crieur("queue", "resolve", str(item_id), "--posted", "https://bsky.app/profile/crieur.test/post/3kzzzzzzzzz22",
                  "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert store.get_item(item_id).posts[2].remote_id == f"at://{did}/app.bsky.feed.post/3kzzzzzzzzz22"


def test_an_explicit_remote_id_and_post_number(store: Store, db: str, tmp_path: Path) -> None:
    item_id = in_doubt(store, "x")
    done = crieur("queue", "resolve", str(item_id), "--post", "3", "--posted", "https://x.com/i/web/status/77",
                  "--remote-id", "77777", "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert store.get_item(item_id).posts[2].remote_id == "77777"


@pytest.mark.parametrize("args, message", [
    (["999", "--not-posted"], "no item 999"),
    (["{id}", "--post", "9", "--not-posted"], "has posts 1 to 4"),
    (["{id}", "--post", "1", "--not-posted"], "already posted"),
    (["{id}", "--posted", "https://x.com/desk"], "cannot tell the X post id"),
    (["{id}", "--posted", "not a url"], "is not a URL"),
    (["{id}", "--not-posted", "--remote-id", "5"], "--remote-id goes with --posted"),
])
def test_bad_input_exits_2_with_one_line(store: Store, db: str, tmp_path: Path, args: list[str], message: str) -> None:
    item_id = in_doubt(store)
    done = crieur("queue", "resolve", *[a.format(id=item_id) for a in args], "--db", db, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert store.get_item(item_id).state == ItemState.NEEDS_REVIEW  # nothing changed


def test_wrong_state_exits_2(store: Store, db: str, tmp_path: Path) -> None:
    item_id = in_doubt(store, posts=4)
    assert crieur("queue", "resolve", str(item_id), "--not-posted", "--db", db, cwd=tmp_path).returncode == 0
    # Now scheduled with every post either out or plainly pending: nothing is in doubt.
    done = crieur("queue", "resolve", str(item_id), "--not-posted", "--db", db, cwd=tmp_path)
    assert done.returncode == 2
    assert "nothing to resolve" in done.stderr

    # A published item cannot be resolved either.
    published = in_doubt(store, "mastodon", posts=3)
    assert crieur("queue", "resolve", str(published), "--posted", "https://m.example/@d/5", "--db", db,
                  cwd=tmp_path).returncode == 0
    assert store.get_item(published).state == ItemState.PUBLISHED
    done = crieur("queue", "resolve", str(published), "--post", "3", "--not-posted", "--db", db, cwd=tmp_path)
    assert done.returncode == 2 and "already posted" in done.stderr
    done = crieur("queue", "resolve", str(published), "--not-posted", "--db", db, cwd=tmp_path)
    assert done.returncode == 2 and "every post posted" in done.stderr


def test_an_item_being_published_cannot_be_resolved(store: Store, db: str, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    store.enqueue(NewItem(campaign="desk", account="desk-x", platform="x", source="b.txt", content_hash="h",
                          title="t", posts=["one", "two"]), at=now)
    item = store.claim_due(now, HOLDER, LEASE)
    store.mark_sending(item.id, 1, HOLDER)  # in flight right now, under a live lease
    done = crieur("queue", "resolve", str(item.id), "--not-posted", "--db", db, cwd=tmp_path)
    assert done.returncode == 2 and "being published" in done.stderr


def test_one_of_posted_or_not_posted_is_required(store: Store, db: str, tmp_path: Path) -> None:
    item_id = in_doubt(store)
    done = crieur("queue", "resolve", str(item_id), "--db", db, cwd=tmp_path)
    assert done.returncode == 2 and "--posted" in done.stderr


def test_show_prints_the_history_in_the_campaign_zone(store: Store, db: str, tmp_path: Path) -> None:
    item_id = in_doubt(store)
    done = crieur("queue", "show", str(item_id), "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    history = done.stdout.split("history:", 1)[1].strip().splitlines()
    assert len(history) == 3
    assert "post 1" in history[0] and "posted" in history[0] and "1850000000000000001" in history[0]
    assert "post 3" in history[2] and "unknown" in history[2] and "connection dropped" in history[2]
    assert all(" CET " in line or " CEST " in line for line in history)

    data = json.loads(crieur("queue", "show", str(item_id), "--json", "--db", db, cwd=tmp_path).stdout)
    assert [(a["post"], a["outcome"]) for a in data["attempts"]] == [(1, "posted"), (2, "posted"),
                                                                     (3, "unknown")]
    assert data["attempts"][0]["remote_id"] == "1850000000000000001"
    assert data["attempts"][2]["message"] == "outcome unknown: connection dropped"
    assert data["attempts"][0]["at"].endswith(("+01:00", "+02:00"))


@pytest.mark.parametrize(("url", "remote_id"), [
    ("https://mastodon.example/@desk/113456789012345678", "113456789012345678"),
    ("https://hollo.example/@desk/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
    ("https://gts.example/@desk/statuses/01JCZ3Q8W7N9XKVB4T2M6R5HYD", "01JCZ3Q8W7N9XKVB4T2M6R5HYD"),
    ("https://akkoma.example/notice/AoX8Jt4LQwZr9mbT2q", "AoX8Jt4LQwZr9mbT2q"),
])
def test_mastodon_api_status_ids_of_every_server(store: Store, db: str, tmp_path: Path, url: str,
                                                 remote_id: str) -> None:
    item_id = in_doubt(store, "mastodon")
    done = crieur("queue", "resolve", str(item_id), "--posted", url, "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert store.get_item(item_id).posts[2].remote_id == remote_id
