"""BlueskyAdapter against FakeBluesky: the atproto SDK over loopback HTTP."""

from __future__ import annotations

import stat

import pytest

from bot.adapters import AuthFailed, OutcomeUnknown, OutgoingPost, Rejected
from bot.adapters.bluesky import BlueskyAdapter, record_key, rich_text
from bot.testing import tiny_png
from tests.adapters.conftest import TIMEOUT, make_bluesky


def test_record_key_is_a_stable_tid() -> None:
    key = record_key("item-7-post-3")
    assert key == record_key("item-7-post-3") != record_key("item-7-post-4")
    assert len(key) == 13 and key[0] in "234567abcdefghij"
    assert set(key) <= set("234567abcdefghijklmnopqrstuvwxyz")


def test_facets_use_utf8_byte_offsets_and_full_urls() -> None:
    url = "https://example.com/un/très/long/chemin/vers/l-article?id=42"
    text, facets = rich_text(f"Été 🌍 lisez {url} #Ukraine #été! fin")
    data = text.encode("utf-8")
    link, tag1, tag2 = facets
    assert url not in text, "long links are shortened in the text"
    shown = data[link["index"]["byteStart"]:link["index"]["byteEnd"]].decode()
    assert shown.startswith("example.com/") and shown.endswith("...")
    assert link["features"][0]["uri"] == url
    assert data[tag1["index"]["byteStart"]:tag1["index"]["byteEnd"]].decode() == "#Ukraine"
    assert tag1["features"][0] == {"$type": "app.bsky.richtext.facet#tag", "tag": "Ukraine"}
    assert data[tag2["index"]["byteStart"]:tag2["index"]["byteEnd"]].decode() == "#été"


def test_thread_replies_carry_root_and_parent(fake_bluesky, tmp_path) -> None:
    adapter = make_bluesky(fake_bluesky, tmp_path).adapter
    first = adapter.publish(OutgoingPost("one", "k1"))
    second = adapter.publish(OutgoingPost("two", "k2"), first)
    third = adapter.publish(OutgoingPost("three", "k3"), second)
    record = fake_bluesky.records[third.id.rsplit("/", 1)[1]]["value"]
    assert record["reply"]["root"]["uri"] == first.id
    assert record["reply"]["parent"]["uri"] == second.id
    assert record["reply"]["parent"]["cid"] == fake_bluesky.records[second.id.rsplit("/", 1)[1]]["cid"]
    assert third.url == f"https://bsky.app/profile/{fake_bluesky.handle}/post/{third.id.rsplit('/', 1)[1]}"


def test_reply_to_a_post_made_by_another_process_reads_its_refs(fake_bluesky, tmp_path) -> None:
    first = make_bluesky(fake_bluesky, tmp_path).adapter.publish(OutgoingPost("one", "k1"))
    second = make_bluesky(fake_bluesky, tmp_path).adapter.publish(OutgoingPost("two", "k2"), first)
    third = make_bluesky(fake_bluesky, tmp_path).adapter.publish(OutgoingPost("three", "k3"), second)
    record = fake_bluesky.records[third.id.rsplit("/", 1)[1]]["value"]
    assert record["reply"]["root"]["uri"] == first.id


def test_session_is_saved_0600_and_reused(fake_bluesky, tmp_path) -> None:
    make_bluesky(fake_bluesky, tmp_path).adapter.verify()
    saved = list(tmp_path.glob("bluesky-*.session"))
    assert len(saved) == 1 and stat.S_IMODE(saved[0].stat().st_mode) == 0o600
    assert fake_bluesky.app_password not in saved[0].read_text()
    make_bluesky(fake_bluesky, tmp_path).adapter.publish(OutgoingPost("again", "k"))
    assert fake_bluesky.sessions_created == 1


def test_revoked_saved_session_is_replaced(fake_bluesky, tmp_path) -> None:
    make_bluesky(fake_bluesky, tmp_path).adapter.verify()
    fake_bluesky.revoke_sessions()
    make_bluesky(fake_bluesky, tmp_path).adapter.publish(OutgoingPost("after revocation", "k"))
    assert fake_bluesky.sessions_created == 2


def test_wrong_password_is_auth_failed_without_the_password(fake_bluesky, tmp_path) -> None:
    adapter = BlueskyAdapter.from_account({"service": fake_bluesky.url},
                                          {"handle": fake_bluesky.handle, "app_password": "wrong-pass-9999"},
                                          timeout=TIMEOUT, state_dir=tmp_path)
    with pytest.raises(AuthFailed) as caught:
        adapter.verify()
    assert "wrong-pass-9999" not in str(caught.value)
    assert "Invalid identifier or password" in caught.value.message


def test_publishing_again_after_a_dropped_connection_posts_once(fake_bluesky, tmp_path) -> None:
    adapter = make_bluesky(fake_bluesky, tmp_path).adapter
    post = OutgoingPost("only once", "k")
    fake_bluesky.fail_next("drop_after_store")
    with pytest.raises(OutcomeUnknown):
        adapter.publish(post)
    ref = adapter.publish(post)
    assert [p.id for p in fake_bluesky.posts()] == [ref.id]


def test_image_embed_has_alt_and_blob(fake_bluesky, tmp_path) -> None:
    adapter = make_bluesky(fake_bluesky, tmp_path).adapter
    media_id = adapter.upload_media(tiny_png(tmp_path / "a.png"), "Alt for Bluesky")
    ref = adapter.publish(OutgoingPost("pic", "k", media_ids=(media_id,)))
    embed = fake_bluesky.records[ref.id.rsplit("/", 1)[1]]["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert embed["images"][0]["alt"] == "Alt for Bluesky"
    assert embed["images"][0]["image"]["ref"]["$link"] == media_id


@pytest.mark.parametrize("status", [400, 500])
def test_a_record_key_holding_another_post_is_rejected_not_retried(fake_bluesky, tmp_path, status: int) -> None:
    """The reference PDS answers 500 for a key in use: a different post there is a collision
    (Rejected, so the item goes to needs_review), not a transient fault to retry until exhausted."""
    adapter = make_bluesky(fake_bluesky, tmp_path).adapter
    adapter.publish(OutgoingPost("the first text", "same-key"))
    fake_bluesky.existing_key_status = status
    with pytest.raises(Rejected, match="already holds a different post") as caught:
        adapter.publish(OutgoingPost("another text", "same-key"))
    assert caught.value.reason == "duplicate"
    assert len(fake_bluesky.posts()) == 1


def _facets(text: str) -> list[tuple[str, str]]:
    shown, facets = rich_text(text)
    raw = shown.encode("utf-8")
    return [(raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(),
             f["features"][0].get("uri") or f["features"][0]["tag"]) for f in facets]


def test_bare_domains_get_link_facets_as_the_app_makes_them() -> None:
    assert _facets("Lire lemonde.fr/international. Voir (sub.example.org) ou array.map(fn).") == [
        ("lemonde.fr/international", "https://lemonde.fr/international"),
        ("sub.example.org", "https://sub.example.org"),
    ]
    assert _facets("not a domain: file.notatld, x.y") == []
    assert _facets("path/to/lemonde.fr is no link") == []


def test_cashtags_get_tag_facets_with_the_dollar_and_upper_case() -> None:
    assert _facets("L'$EUR ou $eur, ($Usd) mais pas $TOOLONG ni x$EUR.") == [
        ("$eur", "$EUR"), ("$Usd", "$USD")]
    assert _facets("https://example.com/?q=$EUR") == [
        ("example.com?q=$EUR", "https://example.com/?q=$EUR")], "a cashtag inside a link is no facet"
