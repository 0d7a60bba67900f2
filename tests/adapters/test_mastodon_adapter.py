"""MastodonAdapter against FakeMastodon: Mastodon.py's own request code over loopback HTTP."""

from __future__ import annotations

import pytest

from bot.adapters import AuthFailed, OutcomeUnknown, OutgoingPost, Rejected
from bot.adapters.mastodon import MastodonAdapter
from bot.errors import BadInput
from bot.testing import tiny_png
from tests.adapters.conftest import TIMEOUT, make_mastodon
from tests.fakes.fake_mastodon import FakeMastodon


def test_limits_come_from_the_instance_and_feed_the_profile() -> None:
    with FakeMastodon(max_characters=1000) as server:
        adapter = make_mastodon(server).adapter
        limits = adapter.limits()
        assert (limits.max_characters, limits.characters_reserved_per_url) == (1000, 23)
        assert limits.max_alt_chars == 1500
        adapter.limits()
        assert server.requests.count(("GET", "/api/v2/instance/")) == 1, "read once, then cached"
        platform = adapter.platform()
        assert platform.limit == 1000


def test_retry_with_the_same_key_after_a_dropped_connection_posts_once(fake_mastodon) -> None:
    adapter = make_mastodon(fake_mastodon).adapter
    post = OutgoingPost("Hello\n\nsecond paragraph https://example.com/a/rather/long/path/to/an/article", "key-1")
    fake_mastodon.fail_next("drop_after_store")
    with pytest.raises(OutcomeUnknown):
        adapter.publish(post)
    ref = adapter.publish(post)  # what the publisher does on Mastodon: same idempotency key
    assert len(fake_mastodon.posts()) == 1 and fake_mastodon.posts()[0].id == ref.id
    assert adapter.find_existing(post) == ref, "HTML content is compared as text"


def test_options_reach_the_server(fake_mastodon) -> None:
    adapter = make_mastodon(fake_mastodon, visibility="unlisted").adapter
    adapter.publish(OutgoingPost("cw'd", "k", lang="fr", spoiler_text="spoiler"))
    status = fake_mastodon.statuses[-1]
    assert (status["visibility"], status["language"], status["spoiler_text"]) == ("unlisted", "fr", "spoiler")


def test_too_long_is_rejected_with_the_instance_message(fake_mastodon) -> None:
    adapter = make_mastodon(fake_mastodon).adapter
    with pytest.raises(Rejected) as caught:
        adapter.publish(OutgoingPost("x" * 501, "k"))
    assert "character limit" in caught.value.message


def test_bad_token_is_auth_failed_and_not_leaked(fake_mastodon) -> None:
    adapter = MastodonAdapter.from_account({"instance": fake_mastodon.url}, {"access_token": "WRONG-token-123"},
                                           timeout=TIMEOUT)
    with pytest.raises(AuthFailed) as caught:
        adapter.verify()
    assert "WRONG-token-123" not in str(caught.value)
    assert "access token is invalid" in caught.value.message


def test_media_waits_for_processing_and_keeps_alt(fake_mastodon, tmp_path) -> None:
    adapter = make_mastodon(fake_mastodon).adapter
    media_id = adapter.upload_media(tiny_png(tmp_path / "a.png"), "Alt for Mastodon")
    assert fake_mastodon.media[media_id]["ready"]
    adapter.publish(OutgoingPost("pic", "k", media_ids=(media_id,)))
    assert fake_mastodon.posts()[-1].media_alts == ("Alt for Mastodon",)


def test_settings_are_checked() -> None:
    with pytest.raises(BadInput):
        MastodonAdapter.from_account({}, {"access_token": "t"})
    with pytest.raises(BadInput):
        MastodonAdapter.from_account({"instance": "https://x.example", "visibility": "loud"}, {"access_token": "t"})
