"""MastodonAdapter: posts to a Mastodon-API server (Mastodon, Hollo, GoToSocial, Akkoma/Pleroma)
through Mastodon.py, with idempotency keys where the server honours them."""

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
from bot.platforms.mastodon_server import (
    DEFAULT_LIMIT,
    DEFAULT_MEDIA,
    DEFAULT_URL_LENGTH,
    Server,
    identify,
    limits_from_instance,
)

_RECENT = 40  # the API's maximum page size for account statuses
_VISIBILITIES = ("public", "unlisted", "private", "direct")
# Akkoma replays the first answer under a key even when it was an error: how many derived keys a
# post may move on to (one per replayed refusal, see `publish`) before the refusal stands.
_KEY_HOPS = 8


class MastodonAdapter(Adapter):
    """A Mastodon-API server through Mastodon.py, `ratelimit_method="throw"` so the daemon decides
    when to wait. Mastodon, Hollo, GoToSocial and Akkoma/Pleroma are told apart by their instance
    info (`server`), read once with the limits.

    Settings: `instance` (base URL, required), `visibility`, `media_wait` (seconds to wait for media
    processing, default 30). Credentials: `access_token`.

    Every status carries the post's idempotency key. Mastodon and Hollo return the first status
    for a repeated key (for an hour), Akkoma and Pleroma the first answer (for six hours), so
    after `OutcomeUnknown` the publisher may simply publish again; `find_existing` then raises
    `OutcomeUnknown` when its lookup fails. GoToSocial ignores the key (as does a server the
    adapter does not recognise): there a failed lookup never leads to a second send. A refused
    lookup is `Rejected` (the post goes to review: look at the account), a 5xx or a network
    failure `Transient` (the lookup is tried again later, the post stays in doubt).
    `honours_idempotency_key` says which case applies.
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
        self._info: dict[str, Any] | None = None
        self._server: Server | None = None
        self._me: Any = None
        # Whether the last response was a replay of an earlier one (Akkoma's `idempotent-replayed`).
        self._replayed = False
        session = getattr(api, "session", None)
        if session is not None:
            session.hooks.setdefault("response", []).append(self._watch)

    def _watch(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"

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
            # Plain text, whatever the account's own default format is (Markdown on some
            # GoToSocial and Akkoma accounts): the post reads as the preview showed it.
            "content_type": "text/plain" if self._takes_content_type() else None,
        }.items() if value is not None}
        key = post.idempotency_key
        for hop in range(1, _KEY_HOPS + 1):
            self._replayed = False
            try:
                status = self._call(self._request, sent=True, verb="POST", endpoint="/api/v1/statuses",
                                    params=params, headers={"Idempotency-Key": key}, use_json=True)
                break
            except (RateLimited, Rejected):
                # Akkoma's IdempotencyPlug replays the first answer under a key for six hours,
                # a 429 or a 422 too: that request created nothing, and neither would this one.
                # Move on to the next key derived from the post's (the same chain every time,
                # so a repeat after a send in doubt finds the status created under it).
                if not self._replayed or hop == _KEY_HOPS:
                    raise
                key = f"{post.idempotency_key}~{hop + 1}"
        ref = RemoteRef(str(status["id"]), status.get("url") or status.get("uri"))
        self._check_attachments(post, status, ref)
        return ref

    def _takes_content_type(self) -> bool:
        try:
            return self.server.takes_content_type
        except AdapterError:  # the instance info unreadable now: post without it, as Mastodon.py does
            return False

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
            stated = limits_from_instance(self._instance(), "instance info")
            media = stated.media or DEFAULT_MEDIA
            self._limits = Limits(
                max_characters=stated.limit or DEFAULT_LIMIT,
                characters_reserved_per_url=stated.url_length or DEFAULT_URL_LENGTH,
                max_media=media.count, max_image_bytes=media.max_bytes, max_alt_chars=media.max_alt,
            )
        return self._limits

    @property
    def server(self) -> Server:
        """The software the instance runs, from its instance info (read once, then cached)."""
        if self._server is None:
            self._server = identify(self._instance())
        return self._server

    @property
    def honours_idempotency_key(self) -> bool:
        """True when a repeated Idempotency-Key cannot create a second status on this instance
        (Mastodon, Hollo, Akkoma, Pleroma); False on GoToSocial and on servers not recognised.
        :raises AdapterError: the instance info cannot be read"""
        return self.server.honours_idempotency_key

    def idempotency_window(self) -> timedelta | None:
        """An hour on Mastodon and Hollo, six hours on Akkoma and Pleroma, none on GoToSocial."""
        return self.server.key_lifetime

    def _instance(self) -> dict[str, Any]:
        """/api/v2/instance, or /api/v1/instance (marked `_v1`) where there is none: Akkoma, Pleroma
        (their router has no v2 route), Mastodon before 4.0."""
        if self._info is None:
            try:
                info = dict(self._call(self._api.instance_v2, sent=False))
            except Rejected as exc:
                if exc.reason != "not_found":
                    raise
                info = dict(self._call(self._api.instance_v1, sent=False))
                info["_v1"] = True
            self._info = info
        return self._info

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
            raise self._lookup_failed(exc) from exc
        wanted = _normalise(post.text)
        target = reply_to.id if reply_to else None
        for status in statuses:
            parent = status.get("in_reply_to_id")
            if (str(parent) if parent is not None else None) == target and _normalise(_source(status)) == wanted:
                return RemoteRef(str(status["id"]), status.get("url") or status.get("uri"))
        return None

    def _lookup_failed(self, exc: AdapterError) -> AdapterError:
        """What a failed lookup means for a post in doubt. Where a repeat under the same key is
        safe, the outcome is simply unknown. Elsewhere nothing may be sent again blindly: a
        refusal goes to review, a passing failure (5xx, network) is retried later, in doubt."""
        try:
            server = self.server
        except AdapterError:
            server = Server("the server", False)  # cannot tell: assume the key is not honoured
        if server.honours_idempotency_key:
            return OutcomeUnknown(f"cannot read recent statuses: {exc.message}", platform=self.name)
        if isinstance(exc, RateLimited):
            return exc
        why = (f"cannot check whether the post went out: the lookup of recent statuses was refused "
               f"({exc.message}) and {server.name} does not honour Idempotency-Key, so sending it "
               f"again could post it twice")
        if isinstance(exc, Rejected):
            return Rejected("lookup_refused", why, platform=self.name)
        return Transient(why.replace("was refused", "failed"), platform=self.name)

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
    """What the status was written as: the server's source when it gives one (servers that
    render Markdown change the HTML): `text` (Hollo, GoToSocial; Akkoma sends `false`), or
    Akkoma's `akkoma.source` ({"content", "mediaType"}); else the HTML `content` back to text."""
    text = status.get("text")
    if isinstance(text, str) and text:
        return text
    source = (status.get("akkoma") or {}).get("source")
    if isinstance(source, dict):
        source = source.get("content")
    if isinstance(source, str) and source:
        return source
    return _plain_text(status.get("content") or "")


def _normalise(text: str) -> str:
    return " ".join(text.split())
