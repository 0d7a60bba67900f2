"""XAdapter against FakeX: tweepy's own request code, routed to 127.0.0.1 by a mounted transport."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest
import requests

from bot.adapters import (
    AuthFailed,
    OutcomeUnknown,
    OutgoingPost,
    RateLimited,
    Rejected,
    Transient,
)
from bot.adapters.base import RebaseTransport
from bot.adapters.x import XAdapter
from bot.errors import BadInput
from bot.testing import tiny_png
from tests.adapters.conftest import TIMEOUT, make_x


def test_duplicate_content_is_rejected_as_duplicate(fake_x) -> None:
    adapter = make_x(fake_x).adapter
    adapter.publish(OutgoingPost("Same words", "k1"))
    with pytest.raises(Rejected) as caught:
        adapter.publish(OutgoingPost("Same words", "k2"))
    assert caught.value.reason == "duplicate"
    assert "duplicate content" in caught.value.message


def test_rate_limit_gives_the_reset_time(fake_x) -> None:
    adapter = make_x(fake_x).adapter
    fake_x.fail_next("rate_limit")
    with pytest.raises(RateLimited) as caught:
        adapter.publish(OutgoingPost("hello", "k"))
    assert caught.value.retry_at == fake_x.rate_limit_reset
    assert caught.value.retry_at.tzinfo is not None


def test_wrong_keys_fail_auth_without_leaking_them(fake_x) -> None:
    credentials = dict(fake_x.credentials, access_token="9999-WRONG-token-abcdef")
    adapter = XAdapter.from_account({}, credentials, session=_session(fake_x), timeout=TIMEOUT)
    with pytest.raises(AuthFailed) as caught:
        adapter.verify()
    text = str(caught.value) + repr(caught.value.args)
    for secret in list(credentials.values()):
        assert secret not in text


def test_refused_connection_is_transient_not_unknown() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session = requests.Session()
    session.mount("https://api.twitter.com/", RebaseTransport(f"http://127.0.0.1:{port}"))
    adapter = XAdapter.from_account({}, {"oauth2_token": "tok-secret-123456"}, session=session, timeout=TIMEOUT)
    with pytest.raises(Transient) as caught:
        adapter.publish(OutgoingPost("hello", "k"))
    assert not isinstance(caught.value, OutcomeUnknown)
    assert "tok-secret-123456" not in str(caught.value)


def test_slow_answer_is_outcome_unknown_within_the_timeout(fake_x) -> None:
    adapter = make_x(fake_x).adapter
    fake_x.fail_next("slow")
    started = datetime.now(timezone.utc)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(OutgoingPost("hello", "k"))
    # Given up at the client's timeout, not after the fake's answer (which comes a minute later).
    assert (datetime.now(timezone.utc) - started).total_seconds() < 30


def test_find_existing_sees_through_tco_links_and_escaping(fake_x) -> None:
    adapter = make_x(fake_x).adapter
    post = OutgoingPost("Read https://example.com/articles/2024/long-title & share <3", "k")
    ref = adapter.publish(post)
    assert adapter.find_existing(post) == ref
    assert ref.url and ref.url.endswith(f"/status/{ref.id}")


def test_media_upload_sets_alt_text_and_is_attached(fake_x, tmp_path) -> None:
    adapter = make_x(fake_x).adapter
    media_id = adapter.upload_media(tiny_png(tmp_path / "a.png"), "Alt for X")
    post = OutgoingPost("With media", "k", media_ids=(media_id,))
    ref = adapter.publish(post)
    assert fake_x.posts()[-1].media_alts == ("Alt for X",)
    assert adapter.find_existing(post) == ref, "the media's t.co link is not part of the text"
    assert ("POST", "/2/media/metadata") in fake_x.requests


def test_missing_credentials_are_bad_input() -> None:
    with pytest.raises(BadInput):
        XAdapter.from_account({}, {"consumer_key": "only-one"})


def test_premium_limit_feeds_the_platform_profile(fake_x) -> None:
    adapter = make_x(fake_x, limit=25000).adapter
    assert adapter.limits().max_characters == 25000
    assert adapter.platform().limit == 25000


def _session(server):  # type: ignore[no-untyped-def]
    from tests.adapters.conftest import x_session

    return x_session(server)
