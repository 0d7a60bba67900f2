"""The seen-set and source state for feed and folder sources, and account state."""

from __future__ import annotations

from store_helpers import T0, at

from bot.store import Store


def test_seen_set(store: Store) -> None:
    assert not store.seen("desk", "https://example.org/feed.xml", "urn:1")
    assert store.mark_seen("desk", "https://example.org/feed.xml", ["urn:1", "urn:2", "urn:1"]) == 2
    assert store.mark_seen("desk", "https://example.org/feed.xml", ["urn:2", "urn:3"]) == 1
    assert store.mark_seen("desk", "https://example.org/feed.xml", []) == 0
    assert store.seen("desk", "https://example.org/feed.xml", "urn:1")
    assert not store.seen("other", "https://example.org/feed.xml", "urn:1")  # per campaign
    assert not store.seen("desk", "inbox/", "urn:1")  # per source
    many = [f"urn:{i}" for i in range(1200)]
    assert store.seen_many("desk", "https://example.org/feed.xml", many) == {"urn:1", "urn:2", "urn:3"}
    assert store.mark_seen("desk", "inbox/", many) == 1200
    assert store.seen_many("desk", "inbox/", many) == set(many)


def test_source_state(store: Store) -> None:
    assert store.source_state("desk", "feed") == {}
    store.set_source_state("desk", "feed", {"etag": '"abc"', "modified": "Tue, 24 Nov 2026 08:00:00 GMT"})
    store.set_source_state("desk", "feed", {"etag": '"def"', "backfilled": True, "n": 3})
    assert store.source_state("desk", "feed") == {"etag": '"def"', "backfilled": True, "n": 3}
    assert store.source_state("other", "feed") == {}


def test_account_state(store: Store) -> None:
    fresh = store.account_state("desk-x")
    assert fresh.paused_until is None and fresh.pause_reason is None and fresh.rate_limit == {}
    assert not fresh.is_paused(T0)
    store.set_rate_limit("desk-x", {"x-rate-limit-remaining": "12", "x-rate-limit-reset": "1772441400"}, now=T0)
    state = store.pause_account("desk-x", at(1), "429 Too Many Requests", now=T0)
    assert state.paused_until == at(1) and state.pause_reason == "429 Too Many Requests"
    assert state.rate_limit == {"x-rate-limit-remaining": "12", "x-rate-limit-reset": "1772441400"}
    assert state.rate_limit_at == T0
    assert state.is_paused(at(0.5)) and not state.is_paused(at(1))
    store.set_rate_limit("desk-x", {"x-rate-limit-remaining": "0"}, now=at(0.5))
    assert store.account_state("desk-x").pause_reason == "429 Too Many Requests"  # kept
    assert store.account_state("desk-x").rate_limit == {"x-rate-limit-remaining": "0"}
    resumed = store.resume_account("desk-x")
    assert not resumed.is_paused(at(0.5)) and resumed.rate_limit == {"x-rate-limit-remaining": "0"}
