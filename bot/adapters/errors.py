"""The adapter errors: what went wrong, classified by what the publisher should do next."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.errors import CrieurError

__all__ = [
    "AdapterError",
    "AuthFailed",
    "OutcomeUnknown",
    "RateLimited",
    "Rejected",
    "Transient",
    "redact",
]


class AdapterError(CrieurError):
    """Base of every error an adapter raises; `message` is the platform's own text.

    Messages never contain credentials: adapters pass every text through `redact` first.
    """

    def __init__(self, message: str, *, platform: str = "") -> None:
        self.message = message
        self.platform = platform
        super().__init__(f"{platform}: {message}" if platform else message)


class RateLimited(AdapterError):
    """The account hit a rate limit; nothing was posted. Retry at `retry_at` (aware UTC), not before."""

    def __init__(self, retry_at: datetime, message: str = "rate limited", *, platform: str = "") -> None:
        self.retry_at = retry_at
        super().__init__(f"{message} (retry at {retry_at.isoformat(timespec='seconds')})", platform=platform)
        self.message = message


class Transient(AdapterError):
    """A failure that should pass by itself (network, timeout, 5xx); the post was NOT applied.

    Retry later with backoff.
    """


class OutcomeUnknown(Transient):
    """The request may have been applied (read timeout, connection dropped after sending).

    Before posting again, settle it: `find_existing`, or (Mastodon, Bluesky) repeat the call with
    the same idempotency key, which the platform deduplicates.
    """


class AuthFailed(AdapterError):
    """The credentials were refused (401, revoked or wrong token): pause the account, ask the user."""


class Rejected(AdapterError):
    """The platform refused this post (too long, duplicate, invalid media): retrying will not help.

    `reason` is a short code ("duplicate", "invalid", "too_large", "not_found", …); `message` the
    platform's text.
    """

    def __init__(self, reason: str, message: str = "", *, platform: str = "") -> None:
        self.reason = reason
        super().__init__(f"rejected ({reason}): {message}" if message else f"rejected ({reason})",
                         platform=platform)
        self.message = message or reason


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every non-trivial secret value replaced by '***'."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
