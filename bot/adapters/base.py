"""The adapter contract: the Adapter base class, the values it exchanges, shared HTTP helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from requests.adapters import HTTPAdapter

from bot.adapters.errors import OutcomeUnknown, Transient

if TYPE_CHECKING:
    import requests

    from bot.platforms.base import Platform

__all__ = ["Adapter", "Limits", "OutgoingPost", "RemoteRef", "TimeoutSession", "network_error"]


@dataclass(frozen=True)
class RemoteRef:
    """A published post: its remote id (an opaque string, never assume a number) and its web URL."""

    id: str
    url: str | None = None


@dataclass(frozen=True)
class OutgoingPost:
    """One post to publish.

    `idempotency_key` is stable across retries and restarts (it comes from the store): the same key
    must never yield two remote posts. `media_ids` are ids returned by the same adapter's
    `upload_media`. `visibility` and `spoiler_text` are honoured where the platform has them.
    """

    text: str
    idempotency_key: str
    media_ids: tuple[str, ...] = ()
    lang: str | None = None
    spoiler_text: str | None = None
    visibility: str | None = None
    # For a lookup (`find_existing`): the post, if it was sent at all, was created at or after
    # this time (aware UTC) — the thread's enqueue time, a bound that never moves later.
    not_before: datetime | None = None


@dataclass(frozen=True)
class Limits:
    """The platform's live limits for this account (read once, then cached)."""

    max_characters: int
    characters_reserved_per_url: int | None
    max_media: int
    max_image_bytes: int
    max_alt_chars: int


class Adapter(ABC):
    """Publishes posts to one account of one platform.

    Built with `from_account`; every method raises only the errors of `bot.adapters.errors`
    (`RateLimited`, `Transient`/`OutcomeUnknown`, `AuthFailed`, `Rejected`), each carrying the
    platform's own message and never a credential. Every HTTP call has a timeout.

    A third-party platform's adapter subclasses this class; its `bot.platforms.PlatformPlugin`
    (registered in the `crieur.platforms` entry-point group) names it, and
    `bot.testing.AdapterContract` is the suite it should pass.
    """

    #: the platform's name (its plug-in's), also the `bot.platforms` profile name
    name: ClassVar[str] = ""
    #: True when repeating `publish` with the same idempotency key cannot create a second post
    #: (the platform deduplicates); the publisher then retries an undecided post instead of
    #: sending it to a person for review.
    idempotent: ClassVar[bool] = False

    def rate_limit(self) -> dict[str, str] | None:
        """The rate-limit headers of the last response (lower-case names), if the adapter knows them.

        The publisher stores them per account so that every process sees the remaining budget.
        """
        return None

    @classmethod
    @abstractmethod
    def from_account(
        cls,
        settings: dict[str, Any],
        credentials: dict[str, str],
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        state_dir: Path | None = None,
    ) -> Adapter:
        """Build the adapter for one account; no network call is made here.

        :param settings: the campaign account's non-secret settings (instance, visibility, …)
        :param credentials: resolved secrets; which keys depends on the platform
        :param session: the HTTP session to use (tests mount transports on it); a new one if None
        :param timeout: seconds for every HTTP call
        :param state_dir: where the adapter may keep state between runs (e.g. a saved session)
        :raises BadInput: a required setting or credential is missing
        """

    @abstractmethod
    def publish(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef:
        """Publish `post`, as a reply to `reply_to` when given; return its remote reference.

        :raises OutcomeUnknown: the request may have been applied; settle it with `find_existing`
        """

    @abstractmethod
    def upload_media(self, path: Path, alt: str) -> str:
        """Upload the file at `path` with alt text `alt`; return a media id for `OutgoingPost.media_ids`.

        Returns only once the media is ready to be attached.
        """

    @abstractmethod
    def verify(self) -> str:
        """Check the credentials; return the account's handle. :raises AuthFailed:"""

    def limits(self) -> Limits:
        """The live limits (read from the platform once, then cached). By default the profile's
        (its limit overrides applied) and the plug-in's media limits."""
        from bot.platforms import get_plugin

        profile = self.platform()
        media = get_plugin(self.name).media
        return Limits(profile.limit, profile.url_length, media.count, media.max_bytes, media.max_alt)

    @abstractmethod
    def find_existing(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef | None:
        """Look for `post` (same text, same reply target) among the account's recent posts.

        Used after `OutcomeUnknown`. Returns None when it is certainly not there.
        :raises OutcomeUnknown: it cannot be decided (network failure, history unavailable)
        """

    def idempotency_window(self) -> timedelta | None:
        """How long after a post was first sent a repeat under its idempotency key is still
        recognised (None: always, e.g. a record key derived from it). Only meaningful when
        `idempotent`; the publisher repeats an undecided post only inside this window.
        :raises AdapterError: the platform cannot be asked now"""
        return None

    def platform(self) -> Platform:
        """The `bot.platforms` profile for this platform, with the live limits as overrides."""
        from bot.platforms import get_platform

        return get_platform(self.name, **self._platform_overrides())

    def _platform_overrides(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        """Release connections (optional)."""


class RebaseTransport(HTTPAdapter):
    """Sends every request it is mounted for to `base` (scheme and host), path and query unchanged.

    tweepy hard-codes X's host; mounting this on the adapter's session lets an account use an
    X-compatible gateway (the `api_base` setting) while tweepy's own request code runs.
    """

    def __init__(self, base: str) -> None:
        super().__init__(max_retries=0)
        self.base = urlsplit(base)

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url)
        request.url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        return super().send(request, *args, **kwargs)


def rebased_session(base: str, hosts: Iterable[str], session: requests.Session | None = None) -> requests.Session:
    """`session` (a new one if None) with every request for `hosts` (URL prefixes) sent to `base`."""
    import requests

    session = session or requests.Session()
    for host in hosts:
        session.mount(host, RebaseTransport(base))
    return session


class TimeoutSession:
    """A requests.Session front that gives every request a default timeout.

    tweepy calls `session.request(...)` without a timeout; this wrapper is put in its place so that
    every call has one, while the wrapped session (with whatever transports are mounted on it) does
    the work.
    """

    def __init__(self, session: requests.Session, timeout: float) -> None:
        self.session = session
        self.timeout = timeout
        #: rate-limit headers (lower-case names) of the last response that carried any
        self.rate_limit: dict[str, str] | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        response = self.session.request(method, url, **kwargs)
        # Kept for the publisher's budget check; tweepy's responses do not expose headers.
        seen = {k.lower(): v for k, v in response.headers.items()
                if "rate-limit" in k.lower() or "-limit-24hour-" in k.lower()}
        if seen:
            self.rate_limit = seen
        return response

    def close(self) -> None:
        self.session.close()


def network_error(exc: BaseException, *, sent: bool, platform: str) -> Transient:
    """Classify a transport failure (requests or httpx) of a call that changes state when `sent`.

    Failures before the request left (DNS, refused connection, connect timeout) are `Transient`;
    a read timeout or a connection dropped after sending are `OutcomeUnknown`, because the server
    may have applied the request. For read-only calls (`sent=False`) everything is `Transient`.
    """
    message = _describe(exc)
    if sent and not _before_sending(exc):
        return OutcomeUnknown(f"outcome unknown: {message}", platform=platform)
    return Transient(message, platform=platform)


def _before_sending(exc: BaseException) -> bool:
    # Walk the cause chain: requests wraps urllib3, Mastodon.py wraps requests, atproto wraps httpx.
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current).__name__
        if kind in {"ConnectTimeout", "ConnectTimeoutError", "NewConnectionError", "NameResolutionError",
                    "ConnectError", "ConnectionRefusedError", "gaierror", "ProxyError", "SSLError"}:
            return True
        if kind == "MaxRetryError":
            current = getattr(current, "reason", None)
            continue
        if current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
            continue
        current = current.__cause__ or current.__context__
    return False


def _describe(exc: BaseException) -> str:
    kind = type(exc).__name__
    if "Timeout" in kind or "timed out" in str(exc).lower():
        return f"timed out ({kind})"
    text = str(exc) or kind
    return text if len(text) <= 300 else text[:297] + "..."
