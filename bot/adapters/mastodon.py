"""MastodonAdapter: posts to a Mastodon instance through Mastodon.py, with idempotency keys."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from bot.adapters.base import Adapter, Limits, OutgoingPost, RemoteRef, network_error
from bot.adapters.errors import (
    AdapterError,
    AuthFailed,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Transient,
    redact,
)
from bot.errors import BadInput

# Mastodon's defaults (4.x), used where an instance does not publish a value.
_DEFAULTS = Limits(max_characters=500, characters_reserved_per_url=23, max_media=4,
                   max_image_bytes=16 * 1024 * 1024, max_alt_chars=1500)
_RECENT = 40  # the API's maximum page size for account statuses
_VISIBILITIES = ("public", "unlisted", "private", "direct")


class MastodonAdapter(Adapter):
    """Mastodon through Mastodon.py, `ratelimit_method="throw"` so the daemon decides when to wait.

    Settings: `instance` (base URL, required), `visibility`, `media_wait` (seconds to wait for media
    processing, default 30). Credentials: `access_token`.

    Every status carries the post's idempotency key: the instance returns the first status for a
    repeated key (for about an hour), so after `OutcomeUnknown` the publisher may simply publish again.
    """

    name = "mastodon"
    idempotent = True

    def __init__(self, api: Mastodon, *, visibility: str | None, secrets: list[str],
                 media_wait: float = 30.0, poll_interval: float = 0.5) -> None:
        self._api = api
        self._visibility = visibility
        self._secrets = secrets
        self._media_wait = media_wait
        self._poll_interval = poll_interval
        self._limits: Limits | None = None
        self._me: Any = None

    @classmethod
    def from_account(cls, settings: dict[str, Any], credentials: dict[str, str], *,
                     session: requests.Session | None = None, timeout: float = 10.0,
                     state_dir: Path | None = None) -> MastodonAdapter:
        instance = settings.get("instance")
        token = credentials.get("access_token")
        if not instance:
            raise BadInput("mastodon: the account needs an 'instance' (e.g. https://mastodon.social)")
        if not token:
            raise BadInput("mastodon: credentials need an access_token (run 'crieur auth mastodon')")
        visibility = settings.get("visibility")
        if visibility is not None and visibility not in _VISIBILITIES:
            raise BadInput(f"mastodon: visibility must be one of {', '.join(_VISIBILITIES)}, not {visibility!r}")
        api = Mastodon(
            api_base_url=instance, access_token=token, ratelimit_method="throw",
            request_timeout=timeout, session=session, version_check_mode="none",
        )
        return cls(api, visibility=visibility, secrets=[v for v in credentials.values() if v],
                   media_wait=float(settings.get("media_wait", 30.0)),
                   poll_interval=float(settings.get("media_poll_interval", 0.5)))

    # -- the contract -------------------------------------------------------------------------

    def publish(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef:
        # Sent as JSON, with what is false or empty left out: Mastodon.py's own status_post sends
        # a form with `sensitive=0` and `media_ids[]=…`, and Mastodon-API servers such as Hollo
        # refuse "0" for a boolean (422) and ignore the form's media ids (the image is dropped).
        params = {key: value for key, value in {
            "status": post.text,
            "in_reply_to_id": reply_to.id if reply_to else None,
            "media_ids": list(post.media_ids) or None,
            "visibility": post.visibility or self._visibility,
            "language": post.lang,
            "spoiler_text": post.spoiler_text or None,
        }.items() if value is not None}
        status = self._call(self._request, sent=True, verb="POST", endpoint="/api/v1/statuses",
                            params=params, headers={"Idempotency-Key": post.idempotency_key},
                            use_json=True)
        ref = RemoteRef(str(status["id"]), status.get("url") or status.get("uri"))
        self._check_attachments(post, status, ref)
        return ref

    def _check_attachments(self, post: OutgoingPost, status: Any, ref: RemoteRef) -> None:
        """A status created without the media it was sent with is an error, never "posted":
        it is deleted (so the post never stays up without its image) and the post is rejected."""
        if not post.media_ids:
            return
        attached = {str(m.get("id")) for m in (status.get("media_attachments") or [])}
        missing = [m for m in post.media_ids if m not in attached]
        if not missing:
            return
        where = ref.url or ref.id
        try:
            self._call(self._request, sent=True, verb="DELETE", endpoint=f"/api/v1/statuses/{ref.id}")
            fate = "the status was deleted again"
        except AdapterError as exc:
            fate = f"deleting it failed ({exc.message}): remove {where} by hand"
        raise Rejected("media_dropped",
                       f"the server created the status {where} without {len(missing)} of its "
                       f"{len(post.media_ids)} media attachment(s); {fate}", platform=self.name)

    def _request(self, verb: str, endpoint: str, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, use_json: bool = False) -> Any:
        """One raw API request through Mastodon.py (its rate-limit reading and error mapping
        kept), for what its helpers encode in a way some servers refuse."""
        request = getattr(self._api, "_Mastodon__api_request")
        return request(verb, endpoint, params or {}, headers=headers or {}, use_json=use_json)

    def upload_media(self, path: Path, alt: str) -> str:
        media = self._call(self._api.media_post, sent=True, media_file=str(path), description=alt or None)
        media_id = str(media["id"])
        # v2 media processes asynchronously: `url` stays null until it is ready, and attaching
        # unprocessed media fails with 422. Poll with a deadline, never forever.
        deadline = time.monotonic() + self._media_wait
        while not media.get("url"):
            if time.monotonic() >= deadline:
                raise Transient(f"media {media_id} still processing after {self._media_wait:g} s",
                                platform=self.name)
            time.sleep(self._poll_interval)
            media = self._call(self._api.media, sent=False, id=media_id)
        return media_id

    def verify(self) -> str:
        return f"@{self._account()['acct']}"

    def limits(self) -> Limits:
        if self._limits is None:
            info = self._call(self._api.instance_v2, sent=False)
            config = info.get("configuration") or {}
            statuses = config.get("statuses") or {}
            media = config.get("media_attachments") or {}
            self._limits = Limits(
                max_characters=int(statuses.get("max_characters") or _DEFAULTS.max_characters),
                characters_reserved_per_url=int(statuses.get("characters_reserved_per_url")
                                                or _DEFAULTS.characters_reserved_per_url),
                max_media=int(statuses.get("max_media_attachments") or _DEFAULTS.max_media),
                max_image_bytes=int(media.get("image_size_limit") or _DEFAULTS.max_image_bytes),
                max_alt_chars=int(media.get("description_limit") or _DEFAULTS.max_alt_chars),
            )
        return self._limits

    def _platform_overrides(self) -> dict[str, Any]:
        limits = self.limits()
        return {"limit": limits.max_characters, "url_length": limits.characters_reserved_per_url}

    def find_existing(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef | None:
        try:
            if reply_to is not None:
                # A reply is looked for by the thread itself: among the replies to its parent
                # (the status's context), however many statuses the account posted since.
                context = self._call(self._api.status_context, sent=False, id=reply_to.id)
                me = str(self._account()["id"])
                statuses = [s for s in (context.get("descendants") or [])
                            if str((s.get("account") or {}).get("id")) == me]
            else:
                # `true`, not Mastodon.py's `1`: some servers (Hollo) accept only true/false.
                statuses = self._call(self._request, sent=False, verb="GET",
                                      endpoint=f"/api/v1/accounts/{self._account()['id']}/statuses",
                                      params={"limit": _RECENT, "exclude_reblogs": "true"})
        except (Transient, RateLimited, Rejected) as exc:
            # A refused lookup is not a refused post: the outcome is still unknown.
            raise OutcomeUnknown(f"cannot read recent statuses: {exc.message}", platform=self.name) from exc
        wanted = _normalise(post.text)
        target = reply_to.id if reply_to else None
        for status in statuses:
            parent = status.get("in_reply_to_id")
            if (str(parent) if parent is not None else None) == target and _normalise(_source(status)) == wanted:
                return RemoteRef(str(status["id"]), status.get("url") or status.get("uri"))
        return None

    # -- plumbing -----------------------------------------------------------------------------

    def _account(self) -> Any:
        if self._me is None:
            self._me = self._call(self._api.account_verify_credentials, sent=False)
        return self._me

    def _call(self, method: Any, *, sent: bool, **kwargs: Any) -> Any:
        """Run a Mastodon.py call, turning its errors into adapter errors (one place, like its internals)."""
        try:
            return method(**kwargs)
        except MastodonRatelimitError as exc:
            raise RateLimited(self._reset_time(), self._message(exc), platform=self.name) from exc
        except MastodonUnauthorizedError as exc:
            raise AuthFailed(self._message(exc), platform=self.name) from exc
        except MastodonServerError as exc:
            raise Transient(self._message(exc), platform=self.name) from exc
        except MastodonNetworkError as exc:
            # Mastodon.py raises inside `except`, so the requests exception is the context.
            cause = exc.__context__ or exc
            error = network_error(cause, sent=sent, platform=self.name)
            raise type(error)(redact(error.message, self._secrets), platform=self.name) from exc
        except MastodonNotFoundError as exc:
            raise Rejected("not_found", self._message(exc), platform=self.name) from exc
        except MastodonAPIError as exc:
            raise self._api_error(exc) from exc
        except MastodonError as exc:  # illegal arguments, file not found, …
            raise Rejected("invalid", self._message(exc), platform=self.name) from exc

    def _api_error(self, exc: MastodonAPIError) -> AdapterError:
        status = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        message = self._message(exc)
        if status == 403:
            return AuthFailed(message, platform=self.name) if "token" in message.lower() else \
                Rejected("forbidden", message, platform=self.name)
        if status == 413:
            return Rejected("too_large", message, platform=self.name)
        if status == 408:
            return Transient(message, platform=self.name)
        return Rejected("invalid", message, platform=self.name)

    def _message(self, exc: MastodonError) -> str:
        # Mastodon.py's args: ('Mastodon API returned error', status, reason, server message).
        args = exc.args
        if len(args) >= 4:
            # The server's own explanation, whatever its shape (Hollo's is a JSON object).
            detail = args[3] if isinstance(args[3], str) or not args[3] else json.dumps(args[3], ensure_ascii=False)
            text = f"{args[1]} {args[2]}: {detail}" if detail else f"{args[1]} {args[2]}"
        else:
            text = str(args[0]) if args else type(exc).__name__
        return redact(text, self._secrets)

    def rate_limit(self) -> dict[str, str] | None:
        """X-RateLimit-Remaining and -Reset as Mastodon.py last read them."""
        remaining = getattr(self._api, "ratelimit_remaining", None)
        reset = getattr(self._api, "ratelimit_reset", None)
        if remaining is None or not reset:
            return None
        when = datetime.fromtimestamp(float(reset), tz=timezone.utc).isoformat()
        return {"x-ratelimit-remaining": str(remaining), "x-ratelimit-reset": when}

    def _reset_time(self) -> datetime:
        # Mastodon.py parsed X-RateLimit-Reset (and corrected it for the server's clock).
        reset = self._api.ratelimit_reset
        if reset:
            return datetime.fromtimestamp(float(reset), tz=timezone.utc)
        return datetime.now(timezone.utc) + timedelta(minutes=5)


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def _plain_text(content: str) -> str:
    """A status's HTML `content` back to text: links keep their full URL (the hidden spans hold it)."""
    text = _PARAGRAPH.sub("\n\n", content)
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text))


def _source(status: Any) -> str:
    """What the status was written as: the server's source `text` when it gives one (servers
    that render Markdown change the HTML), else the HTML `content` back to text."""
    text = status.get("text")
    return text if isinstance(text, str) and text else _plain_text(status.get("content") or "")


def _normalise(text: str) -> str:
    return " ".join(text.split())
