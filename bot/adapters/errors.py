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


def secret_forms(secret: str) -> set[str]:
    """Every form a secret can take in an error text: as given, stripped, URL-encoded (in a
    query string or a form body), percent-encoded with `+` for spaces, and escaped as Python's
    repr and JSON print it (`\\r`). A header carries it as is (`Bearer …`), so that is covered."""
    from urllib.parse import quote, quote_plus

    forms = {secret, secret.strip()}
    for form in list(forms):
        forms.update({quote(form, safe=""), quote_plus(form, safe=""), quote(form)})
        escaped = form.encode("unicode_escape").decode("ascii")
        forms.update({escaped, escaped.replace('"', '\\"')})
    return {f for f in forms if len(f) >= 4}


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every non-trivial secret value, in every form it can take, replaced by '***'."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= secret_forms(secret)
    for form in sorted(forms, key=len, reverse=True):  # longest first: a form may contain another
        text = text.replace(form, "***")
    return text
