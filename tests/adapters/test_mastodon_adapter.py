"""MastodonAdapter against FakeMastodon: Mastodon.py's own request code over loopback HTTP."""

from __future__ import annotations

import re

import pytest

from bot.adapters import AuthFailed, OutcomeUnknown, OutgoingPost, RateLimited, Rejected, Transient
from bot.adapters.mastodon import MastodonAdapter, _source
from bot.platforms.mastodon_server import identify
from bot.errors import BadInput
from bot.testing import tiny_png
from tests.adapters.conftest import TIMEOUT, make_mastodon
from tests.fakes.base import Response
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


# -- GoToSocial and Akkoma: told apart by their instance info, each with its own limits ----------

_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_FLAKE = re.compile(r"^[0-9A-Za-z]{18}$")


@pytest.mark.parametrize(("flavour", "name", "honours"), [
    ("mastodon", "Mastodon 4.3.0", True), ("hollo", "Hollo 0.6.0", True),
    ("gotosocial", "GoToSocial 0.17.3", False), ("akkoma", "Akkoma 3.13.2", True)])
def test_the_server_and_its_idempotency_come_from_the_instance(flavour: str, name: str, honours: bool) -> None:
    with FakeMastodon(flavour=flavour) as server:
        adapter = make_mastodon(server).adapter
        assert (adapter.server.name, adapter.honours_idempotency_key) == (name, honours)


@pytest.mark.parametrize(("info", "name", "honours"), [
    # What each server really reports (see tests/fakes/mastodon_flavours.py for the sources).
    ({"version": "4.3.0+glitch", "source_url": "https://github.com/glitch-soc/mastodon"}, "Mastodon 4.3.0+glitch", True),
    ({"version": "3.5.3+0.17.3", "source_url": "https://github.com/superseriousbusiness/gotosocial"},
     "GoToSocial 3.5.3+0.17.3", False),
    ({"version": "0.1.1 cb85f65", "source_url": "https://codeberg.org/superseriousbusiness/gotosocial"},
     "GoToSocial 0.1.1 cb85f65", False),
    ({"version": "2.7.2 (compatible; Pleroma 2.6.3)", "_v1": True}, "Pleroma 2.6.3", True),
    ({"version": "3.5.3", "_v1": True}, "Mastodon 3.5.3", True),
    ({"version": "4.2.0 (compatible; Iceshrimp.NET/2024.1)"}, "Iceshrimp.NET/2024.1", False),
    ({"version": "1.2.3", "source_url": "https://example.org/someserver"}, None, False),
])
def test_servers_are_recognised_by_what_they_report(info: dict, name: str | None, honours: bool) -> None:
    server = identify(info)
    assert server.honours_idempotency_key is honours
    if name:
        assert server.name == name


def test_gotosocial_limits_ids_and_a_repeated_key_that_posts_twice() -> None:
    with FakeMastodon(flavour="gotosocial") as server:
        adapter = make_mastodon(server).adapter
        limits = adapter.limits()
        assert (limits.max_characters, limits.characters_reserved_per_url, limits.max_media) == (5000, 25, 6)
        first = adapter.publish(OutgoingPost("same key", "k-1"))
        again = adapter.publish(OutgoingPost("same key", "k-1"))
        assert _ULID.match(first.id) and first.url.endswith(f"/@crieur/statuses/{first.id}")
        assert again.id != first.id and len(server.posts()) == 2, "GoToSocial ignores Idempotency-Key"
        assert adapter.find_existing(OutgoingPost("same key", "other")) in (first, again), "found by its `text`"


def test_gotosocial_counts_urls_in_full_and_refuses_with_400() -> None:
    url = "https://example.com/" + "a" * 60
    with FakeMastodon(flavour="gotosocial", max_characters=50) as server:
        adapter = make_mastodon(server).adapter
        assert adapter.limits().characters_reserved_per_url == 25  # only a hint to clients
        with pytest.raises(Rejected, match="400 Bad Request: Bad Request: status too long, 80 characters") as caught:
            adapter.publish(OutgoingPost(url, "k"))
        assert caught.value.reason == "invalid"
        api = adapter._api  # a JSON string for a Go bool: refused with encoding/json's words
        with pytest.raises(Exception, match="cannot unmarshal string into Go struct field"):
            api._Mastodon__api_request("POST", "/api/v1/statuses", {"status": "x", "sensitive": "0"}, use_json=True)


class _UnavailableLookups(FakeMastodon):
    """The account-statuses lookup answers 503 while `unavailable` is set."""

    unavailable = False

    def account_statuses(self, request, groups):  # type: ignore[no-untyped-def]
        if self.unavailable:
            return Response(503, "<html><body><h1>503 Service Unavailable</h1></body></html>", content_type="text/html")
        return super().account_statuses(request, groups)


def test_gotosocial_refused_and_failing_lookups_never_mean_send_again() -> None:
    with _UnavailableLookups(flavour="gotosocial") as server:
        adapter = make_mastodon(server).adapter
        server.refuse_lookups = True
        with pytest.raises(Rejected, match="does not honour Idempotency-Key") as caught:
            adapter.find_existing(OutgoingPost("anything", "k"))
        assert caught.value.reason == "lookup_refused" and "GoToSocial 0.17.3" in caught.value.message
        server.refuse_lookups, server.unavailable = False, True
        with pytest.raises(Transient, match="lookup of recent statuses failed") as failed:
            adapter.find_existing(OutgoingPost("anything", "k"))
        assert not isinstance(failed.value, OutcomeUnknown), "retried later, never sent again blindly"


def test_akkoma_limits_come_from_v1_and_its_source_is_compared() -> None:
    with FakeMastodon(flavour="akkoma") as server:
        adapter = make_mastodon(server).adapter
        limits = adapter.limits()
        assert (limits.max_characters, limits.max_image_bytes, limits.max_alt_chars) == (5000, 16_000_000, 5000)
        assert ("GET", "/api/v2/instance/") in server.requests and ("GET", "/api/v1/instance/") in server.requests
        first = adapter.publish(OutgoingPost("  Akkoma <trims> & escapes\n\nhttps://example.com/x  ", "k-1"))
        assert _FLAKE.match(first.id) and first.url.endswith(f"/notice/{first.id}")
        status = server.statuses[-1]
        assert status["text"] is False and status["akkoma"]["source"]["content"].startswith("Akkoma <trims>")
        assert adapter.find_existing(OutgoingPost("Akkoma <trims> & escapes\n\nhttps://example.com/x", "o")) == first
        assert adapter.publish(OutgoingPost("ignored", "k-1")) == first, "the key is honoured"


def test_akkoma_replays_a_429_under_the_key_and_the_adapter_moves_to_the_next_key() -> None:
    with FakeMastodon(flavour="akkoma") as server:
        adapter = make_mastodon(server).adapter
        post = OutgoingPost("rate limited once", "item-7-post-1")
        server.fail_next("rate_limit")
        with pytest.raises(RateLimited):
            adapter.publish(post)
        ref = adapter.publish(post)  # the same key gets the cached 429: the next key is used
        assert len(server.posts()) == 1 and server.posts()[0].id == ref.id
        assert set(server.by_key) == {"item-7-post-1", "item-7-post-1~2"}
        assert adapter.publish(post) == ref, "the chain leads to the same status every time"
        assert len(server.posts()) == 1


def test_source_prefers_what_the_server_says_was_written() -> None:
    content = '<p><a href="https://x.example/@a" class="u-url mention">@<span>a</span></a> hi</p>'
    assert _source({"text": False, "akkoma": {"source": {"content": "@a@x.example hi"}}, "content": content}) \
        == "@a@x.example hi"
    assert _source({"text": "*md*", "content": "<p><em>md</em></p>"}) == "*md*"
    assert _source({"text": False, "content": "a<br>b"}) == "a\nb"


@pytest.mark.parametrize("flavour", ["gotosocial", "akkoma", "mastodon", "hollo"])
def test_a_post_reads_as_written_where_the_account_could_default_to_markdown(flavour: str) -> None:
    """GoToSocial and Akkoma render a status without `content_type` in the account's own default
    format, Markdown on some accounts: the adapter asks for plain text there (and only there:
    Mastodon ignores the field, Hollo always renders Markdown — the preview warns about it)."""
    with FakeMastodon(flavour=flavour) as server:
        server.account_format = "text/markdown"
        make_mastodon(server).adapter.publish(OutgoingPost("Le vote est *important* pour la ville.", "k-md"))
        content = server.statuses[-1]["content"]
    assert ("<em>" in content) is (flavour == "hollo")
