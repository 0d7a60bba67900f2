"""The adapter contract suite, shipped so that third-party adapters can run it against their fakes.

Use: subclass `AdapterContract` in a test module and provide an `adapter_harness` fixture that
returns a `Harness` (a fresh adapter pointed at a fresh fake server). pytest then runs every check::

    class TestMyAdapter(AdapterContract):
        @pytest.fixture
        def adapter_harness(self, tmp_path):
            server = MyFakeServer().start()
            yield Harness(MyAdapter.from_account({...}, {...}, timeout=0.5), server)
            server.stop()

This module imports pytest: import it from tests only.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import pytest

from bot.adapters import (
    Adapter,
    AdapterError,
    AuthFailed,
    OutcomeUnknown,
    OutgoingPost,
    RateLimited,
    Rejected,
    RemoteRef,
    Transient,
)

__all__ = ["FAILURES", "AdapterContract", "FakeServerInspector", "Harness", "ServerPost", "tiny_png"]

#: failure kinds a fake server may inject into its next post-creating request
FAILURES = (
    "server_error",      # 5xx, nothing stored            -> Transient (not OutcomeUnknown)
    "rate_limit",        # 429 with reset headers          -> RateLimited(retry_at = the reset)
    "unauthorized",      # 401                             -> AuthFailed
    "duplicate",         # the platform's duplicate refusal -> Rejected("duplicate")
    "slow",              # stored, answered after the timeout -> Transient (usually OutcomeUnknown)
    "drop_after_store",  # stored, connection closed without answer -> OutcomeUnknown
)


@dataclass(frozen=True)
class ServerPost:
    """A post as the fake server stored it."""

    id: str
    text: str
    reply_to: str | None = None
    media_alts: tuple[str, ...] = ()


class FakeServerInspector(Protocol):
    """What the suite needs from a fake server."""

    #: the failure kinds (from FAILURES) this server can inject
    failures: frozenset[str]
    #: the reset time announced by the last injected 429 (aware UTC)
    rate_limit_reset: object
    #: credential values that must never appear in an error message
    secrets: list[str]

    def posts(self) -> list[ServerPost]:
        """Every stored post, oldest first."""

    def fail_next(self, kind: str, count: int = 1) -> None:
        """Make the next `count` post-creating requests fail as `kind`."""


@dataclass
class Harness:
    """An adapter and the fake server it talks to."""

    adapter: Adapter
    server: FakeServerInspector
    #: the platform deduplicates a repeated idempotency key (Mastodon, Bluesky, dry run)
    idempotent: bool = True
    #: the server records media and alt texts
    media: bool = True
    #: remote ids as the server knows them, if they differ from RemoteRef.id
    extra: dict[str, object] = field(default_factory=dict)


def tiny_png(path: Path) -> Path:
    """Write a valid 1×1 PNG at `path` and return it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def _post(n: int, run: str = "t") -> OutgoingPost:
    return OutgoingPost(text=f"Post {n} of the thread: on ne publie jamais deux fois, même après une panne. #crieur",
                        idempotency_key=f"{run}-item-42-post-{n}")


def _assert_no_secret(error: BaseException, secrets: list[str]) -> None:
    current: BaseException | None = error
    while current is not None:
        text = f"{current} {current.args!r}"
        for secret in secrets:
            assert secret not in text, f"a credential leaks into {type(current).__name__}"
        current = current.__cause__ or current.__context__


class AdapterContract:
    """The checks every adapter must pass. Subclasses provide the `adapter_harness` fixture."""

    THREAD = 10

    def _publish_thread(self, h: Harness, start: int, stop: int, previous: RemoteRef | None,
                        refs: list[RemoteRef]) -> RemoteRef | None:
        for n in range(start, stop):
            previous = h.adapter.publish(_post(n), previous)
            refs.append(previous)
        return previous

    def _assert_chain(self, h: Harness, refs: list[RemoteRef]) -> None:
        posts = h.server.posts()
        assert [p.id for p in posts] == [r.id for r in refs], "one stored post per published post, in order"
        assert posts[0].reply_to is None
        for before, post in zip(posts, posts[1:]):
            assert post.reply_to == before.id
        assert len({p.id for p in posts}) == len(posts)

    def test_verify_returns_a_handle(self, adapter_harness: Harness) -> None:
        handle = adapter_harness.adapter.verify()
        assert isinstance(handle, str) and handle

    def test_limits_are_sane_and_cached(self, adapter_harness: Harness) -> None:
        limits = adapter_harness.adapter.limits()
        assert limits.max_characters > 0 and limits.max_media >= 1 and limits.max_alt_chars > 0
        assert adapter_harness.adapter.limits() == limits

    def test_thread_of_ten_is_a_reply_chain(self, adapter_harness: Harness) -> None:
        refs: list[RemoteRef] = []
        self._publish_thread(adapter_harness, 0, self.THREAD, None, refs)
        assert all(isinstance(r.id, str) and r.id for r in refs)
        self._assert_chain(adapter_harness, refs)

    @pytest.mark.parametrize("kind", FAILURES)
    def test_failure_mid_thread_then_resume(self, adapter_harness: Harness, kind: str) -> None:
        h = adapter_harness
        if kind not in h.server.failures:
            pytest.skip(f"this server does not inject {kind}")
        refs: list[RemoteRef] = []
        previous = self._publish_thread(h, 0, 4, None, refs)
        h.server.fail_next(kind)
        with pytest.raises(AdapterError) as caught:
            h.adapter.publish(_post(4), previous)
        error = caught.value
        _assert_no_secret(error, h.server.secrets)
        if kind == "server_error":
            assert isinstance(error, Transient) and not isinstance(error, OutcomeUnknown)
        elif kind == "rate_limit":
            assert isinstance(error, RateLimited)
            assert abs(error.retry_at - h.server.rate_limit_reset) <= timedelta(seconds=2)
        elif kind == "unauthorized":
            assert isinstance(error, AuthFailed)
        elif kind == "duplicate":
            assert isinstance(error, Rejected) and error.reason == "duplicate"
            return  # the platform refused this post for good: nothing to resume
        elif kind == "slow":
            assert isinstance(error, Transient)
        elif kind == "drop_after_store":
            assert isinstance(error, OutcomeUnknown)
        if isinstance(error, OutcomeUnknown):
            # What the publisher does: settle the unknown outcome, never post twice.
            found = h.adapter.find_existing(_post(4), previous)
            assert found is not None, "the stored post must be found"
            assert found.id == h.server.posts()[-1].id
            previous = found
            refs.append(found)
        else:
            previous = h.adapter.publish(_post(4), previous)
            refs.append(previous)
        self._publish_thread(h, 5, self.THREAD, previous, refs)
        self._assert_chain(h, refs)

    def test_same_key_twice_is_one_post(self, adapter_harness: Harness) -> None:
        h = adapter_harness
        if not h.idempotent:
            pytest.skip("the platform has no idempotency key (use find_existing)")
        first = h.adapter.publish(_post(0), None)
        again = h.adapter.publish(_post(0), None)
        assert again.id == first.id
        assert len(h.server.posts()) == 1

    def test_find_existing(self, adapter_harness: Harness) -> None:
        h = adapter_harness
        assert h.adapter.find_existing(_post(0), None) is None
        first = h.adapter.publish(_post(0), None)
        second = h.adapter.publish(_post(1), first)
        assert h.adapter.find_existing(_post(1), first) == second
        assert h.adapter.find_existing(_post(0), None) == first
        assert h.adapter.find_existing(_post(1), None) is None, "same text, other reply target"

    def test_media_with_alt_text(self, adapter_harness: Harness, tmp_path: Path) -> None:
        h = adapter_harness
        media_id = h.adapter.upload_media(tiny_png(tmp_path / "chart.png"), "A bar chart of the results")
        assert isinstance(media_id, str) and media_id
        post = OutgoingPost("With a picture", "media-post-1", media_ids=(media_id,))
        h.adapter.publish(post, None)
        if h.media:
            assert h.server.posts()[-1].media_alts == ("A bar chart of the results",)


@contextmanager
def postgres_schema(base_url: str, prefix: str = "crieur_test") -> Iterator[str]:
    """A store URL on `base_url`'s database that selects a new, empty schema, dropped on exit.

    Tests (and benchmarks) that share one PostgreSQL database never see each other's tables:
    each gets its own schema through `search_path` in the connection options.
    """
    import uuid
    from urllib.parse import quote

    from sqlalchemy import create_engine, text

    from bot.store import resolve_store_url

    admin_url = resolve_store_url(base_url)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in admin_url else "?"
    try:
        yield f"{admin_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
