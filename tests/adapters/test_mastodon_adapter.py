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


# -- Mastodon-compatible servers: the fake as strict as Hollo --------------------------------


def test_hollo_refuses_mastodon_py_s_own_form_and_accepts_ours(tmp_path) -> None:
    with FakeMastodon(flavour="hollo") as server:
        adapter = make_mastodon(server).adapter
        api = adapter._api  # Mastodon.py itself, as Crieur called it before: `sensitive=0` in a form
        with pytest.raises(Exception, match="expected boolean|Expected boolean"):
            api.status_post("form post", sensitive=False)
        with pytest.raises(Rejected, match="Expected boolean, received string"):
            adapter._call(api.status_post, sent=True, status="form post")  # the server's words reach us
        media_id = adapter.upload_media(tiny_png(tmp_path / "a.png"), "a red square")
        ref = adapter.publish(OutgoingPost("*with* an image", "k-1", media_ids=(media_id,)))
        (stored,) = server.posts()
        assert stored.id == ref.id and stored.media_alts == ("a red square",), "JSON media_ids attach"
        assert len(ref.id) == 36 and ref.id.count("-") == 4, "Hollo's ids are UUIDs"


def test_hollo_lookup_uses_true_and_compares_the_markdown_source() -> None:
    with FakeMastodon(flavour="hollo") as server:
        adapter = make_mastodon(server).adapter
        first = adapter.publish(OutgoingPost("a *Markdown* post 1/2", "k-1"))
        second = adapter.publish(OutgoingPost("> quoted 2/2", "k-2"), first)
        assert adapter.find_existing(OutgoingPost("a *Markdown* post 1/2", "other")) == first
        assert adapter.find_existing(OutgoingPost("> quoted 2/2", "other"), first) == second
        # The strict fake answers 400 to `exclude_reblogs=1`: finding post 1 shows `true` was sent.
        with pytest.raises(Exception, match="400"):
            adapter._api.account_statuses(server.account["id"], exclude_reblogs=True)


def test_a_refused_lookup_leaves_the_outcome_unknown() -> None:
    with FakeMastodon(flavour="hollo") as server:
        adapter = make_mastodon(server).adapter
        server.refuse_lookups = True
        with pytest.raises(OutcomeUnknown, match="cannot read recent statuses"):
            adapter.find_existing(OutgoingPost("anything", "k"))


def test_a_status_created_without_its_media_is_an_error_and_is_deleted(tmp_path) -> None:
    with FakeMastodon(flavour="hollo") as server:
        adapter = make_mastodon(server).adapter
        media_id = adapter.upload_media(tiny_png(tmp_path / "a.png"), "alt")
        server.ignore_media = True
        with pytest.raises(Rejected, match="without 1 of its 1 media") as caught:
            adapter.publish(OutgoingPost("an image post", "k-1", media_ids=(media_id,)))
        assert caught.value.reason == "media_dropped"
        assert server.posts() == [], "the status without its image does not stay up"
