"""XAdapter: posts to X through tweepy's v2 Client, uploads media through X's v2 media endpoint."""

from __future__ import annotations

import html
import mimetypes
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
import tweepy

from bot.adapters.base import (
    Adapter,
    OutgoingPost,
    RemoteRef,
    TimeoutSession,
    network_error,
    rebased_session,
)
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

# The hosts tweepy and the media upload talk to (hard-coded there): what `api_base` replaces.
X_HOSTS = ("https://api.twitter.com/", "https://api.x.com/", "https://upload.twitter.com/")
MEDIA_UPLOAD_URL = "https://api.x.com/2/media/upload"
MEDIA_METADATA_URL = "https://api.x.com/2/media/metadata"
_OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
# X's fixed limits: it publishes no per-account configuration endpoint.
# How many recent posts find_existing reads: a thread is published one post at a time, so the post
# in doubt is among the newest few.
_RECENT = 20
# Pages of 100 read after a thread's previous post when looking for a reply in doubt.
_LOOKUP_PAGES = 10


class XAdapter(Adapter):
    """X (Twitter) through tweepy 4's `Client` (API v2).

    Credentials: OAuth 1.0a user context (`consumer_key`, `consumer_secret`, `access_token`,
    `access_token_secret`) or an OAuth 2.0 user token (`bearer_token` or `oauth2_token`).
    Settings: `limit` (X Premium accounts may post longer texts).

    X has no idempotency key: after `OutcomeUnknown`, call `find_existing` before posting again.
    """

    name = "x"

    def __init__(self, client: tweepy.Client, http: TimeoutSession, *, oauth1: bool,
                 secrets: list[str], limit: int | None = None) -> None:
        self._client = client
        self._http = http
        self._oauth1 = oauth1
        self._secrets = secrets
        self._limit = limit
        self._me: Any = None

    @classmethod
    def from_account(cls, settings: dict[str, Any], credentials: dict[str, str], *,
                     session: requests.Session | None = None, timeout: float = 10.0,
                     state_dir: Path | None = None) -> XAdapter:
        oauth1 = all(credentials.get(k) for k in _OAUTH1_KEYS)
        # An OAuth 2.0 user-context token may come as `access_token` alone (the campaign's shape).
        token = (credentials.get("oauth2_token") or credentials.get("bearer_token")
                 or (credentials.get("access_token") if not oauth1 else None))
        if not oauth1 and not token:
            raise BadInput("x: credentials need consumer_key, consumer_secret, access_token and "
                           "access_token_secret (OAuth 1.0a), or an OAuth 2.0 user token (oauth2_token)")
        if oauth1:
            client = tweepy.Client(**{k: credentials[k] for k in _OAUTH1_KEYS})
        else:
            client = tweepy.Client(bearer_token=token)
        session = session or requests.Session()
        if settings.get("api_base"):
            session = rebased_session(str(settings["api_base"]), X_HOSTS, session)
        http = TimeoutSession(session, timeout)
        # tweepy only ever calls `self.session.request(...)`: our front adds the timeout it lacks.
        client.session = http
        limit = settings.get("limit")
        return cls(client, http, oauth1=oauth1, secrets=[v for v in credentials.values() if v],
                   limit=int(limit) if limit else None)

    # -- the contract -------------------------------------------------------------------------

    def rate_limit(self) -> dict[str, str] | None:
        """x-rate-limit-limit/-remaining/-reset of the last X response (per endpoint: the last call)."""
        return self._http.rate_limit

    def publish(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef:
        kwargs: dict[str, Any] = {"text": post.text, "user_auth": self._oauth1}
        if reply_to is not None:
            kwargs["in_reply_to_tweet_id"] = reply_to.id
        if post.media_ids:
            kwargs["media_ids"] = list(post.media_ids)
        response = self._call(self._client.create_tweet, sent=True, **kwargs)
        tweet_id = str(response.data["id"])
        return RemoteRef(tweet_id, self._url(tweet_id))

    def upload_media(self, path: Path, alt: str) -> str:
        path = Path(path)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        category = "tweet_gif" if mime == "image/gif" else "tweet_image"
        with path.open("rb") as fh:
            # One-shot upload: images fit in a single request (5 MB); X also offers
            # initialize/append/finalize for video, which Crieur does not post.
            body = self._raw("POST", MEDIA_UPLOAD_URL, sent=True,
                             files={"media": (path.name, fh, mime)},
                             data={"media_category": category, "media_type": mime})
        media_id = str(body["data"]["id"])
        if alt:
            self._raw("POST", MEDIA_METADATA_URL, sent=False,
                      json={"id": media_id, "metadata": {"alt_text": {"text": alt}}})
        return media_id

    def verify(self) -> str:
        return str(self._user().username)

    def _platform_overrides(self) -> dict[str, Any]:
        return {"limit": self._limit} if self._limit else {}

    def find_existing(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef | None:
        """Look for `post` by the thread itself, not in a fixed window of recent posts.

        A reply (post k > 1) can only be newer than the post it answers: every post of the
        account since that one is read (`since_id`, page by page), so a busy account or a long
        outage cannot push it out of sight. A first post is looked for among the account's posts
        created since `post.not_before` (the thread's enqueue time), else among the latest ones.
        X's timeline lags behind its writes: finding nothing is NOT proof that the post is not
        there (the publisher treats a later duplicate refusal as the answer).
        """
        try:
            user = self._user()
            wanted = _normalise(post.text)
            target = reply_to.id if reply_to else None
            token: str | None = None
            since = post.not_before
            paged = bool(target or since)
            for _ in range(_LOOKUP_PAGES if paged else 1):
                kwargs: dict[str, Any] = dict(id=user.id, max_results=100 if paged else _RECENT,
                                              tweet_fields=["referenced_tweets", "entities"], user_auth=self._oauth1)
                if target:
                    kwargs["since_id"] = target  # a reply is newer than the post it answers
                elif since is not None:
                    # A first post: among the account's posts since the thread was enqueued.
                    kwargs["start_time"] = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                if token:
                    kwargs["pagination_token"] = token
                response = self._call(self._client.get_users_tweets, sent=False, **kwargs)
                for tweet in response.data or []:
                    replied = next((ref.id for ref in (tweet.referenced_tweets or []) if ref.type == "replied_to"),
                                   None)
                    same_target = (str(replied) if replied else None) == target
                    if same_target and _normalise(_expanded_text(tweet)) == wanted:
                        return RemoteRef(str(tweet.id), self._url(str(tweet.id)))
                token = (response.meta or {}).get("next_token")
                if not token:
                    break
        except (Transient, RateLimited) as exc:
            raise OutcomeUnknown(f"cannot read recent posts: {exc.message}", platform=self.name) from exc
        return None

    # -- plumbing -----------------------------------------------------------------------------

    def _user(self) -> Any:
        if self._me is None:
            self._me = self._call(self._client.get_me, sent=False, user_auth=self._oauth1).data
        return self._me

    def _url(self, tweet_id: str) -> str:
        # X's handle-free permalink: stable without an extra request to learn the handle.
        return f"https://x.com/i/web/status/{tweet_id}"

    def _call(self, method: Any, *, sent: bool, **kwargs: Any) -> Any:
        """Run a tweepy call, turning its errors (and requests') into adapter errors."""
        try:
            return method(**kwargs)
        except tweepy.HTTPException as exc:
            raise self._http_error(exc.response.status_code, exc.response.headers,
                                   _tweepy_message(exc), exc.response.reason) from exc
        except requests.RequestException as exc:
            raise self._redacted(network_error(exc, sent=sent, platform=self.name)) from exc

    def _raw(self, method: str, url: str, *, sent: bool, **kwargs: Any) -> dict[str, Any]:
        """A request outside tweepy (media), authenticated and mapped the same way."""
        headers = {"User-Agent": self._client.user_agent}
        auth = None
        if self._oauth1:
            c = self._client
            auth = tweepy.OAuth1UserHandler(c.consumer_key, c.consumer_secret,
                                            c.access_token, c.access_token_secret).apply_auth()
        else:
            headers["Authorization"] = f"Bearer {self._client.bearer_token}"
        try:
            response = self._http.request(method, url, headers=headers, auth=auth, **kwargs)
        except requests.RequestException as exc:
            raise self._redacted(network_error(exc, sent=sent, platform=self.name)) from exc
        if not response.ok:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise self._http_error(response.status_code, response.headers, _json_message(body),
                                   response.reason)
        return response.json()

    def _http_error(self, status: int, headers: Any, message: str, reason: str | None) -> AdapterError:
        message = redact(message or f"{status} {reason or ''}".strip(), self._secrets)
        if status == 429:
            return RateLimited(_reset_time(headers), message, platform=self.name)
        if status == 401:
            return AuthFailed(message, platform=self.name)
        if status >= 500:
            return Transient(message, platform=self.name)
        if status == 403 and "duplicate" in message.lower():
            return Rejected("duplicate", message, platform=self.name)
        if status == 413:
            return Rejected("too_large", message, platform=self.name)
        return Rejected("forbidden" if status == 403 else "invalid", message, platform=self.name)

    def _redacted(self, error: AdapterError) -> AdapterError:
        error.message = redact(error.message, self._secrets)
        error.args = (redact(str(error), self._secrets),)
        return error


def _reset_time(headers: Any) -> datetime:
    """x-rate-limit-reset (epoch seconds) as an aware datetime; 15 minutes (X's window) without it."""
    raw = headers.get("x-rate-limit-reset") if headers is not None else None
    try:
        return datetime.fromtimestamp(int(raw), tz=timezone.utc)  # type: ignore[arg-type]  # None: TypeError
    except (TypeError, ValueError):
        return datetime.now(timezone.utc) + timedelta(minutes=15)


def _tweepy_message(exc: tweepy.HTTPException) -> str:
    return "; ".join(str(m) for m in exc.api_messages) or str(exc)


def _json_message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    parts = [e.get("message") or e.get("detail") or "" for e in body.get("errors", []) if isinstance(e, dict)]
    parts.append(body.get("detail") or body.get("title") or "")
    return "; ".join(p for p in parts if p)


def _expanded_text(tweet: Any) -> str:
    # X rewrites every link to a t.co URL and returns the original in entities.urls.
    text = tweet.text
    for entity in (tweet.entities or {}).get("urls", []):
        if not entity.get("url"):
            continue
        # A media attachment shows as a trailing t.co link that was not in what we posted.
        replacement = "" if entity.get("media_key") else entity.get("expanded_url") or entity["url"]
        text = text.replace(entity["url"], replacement)
    return text


def _normalise(text: str) -> str:
    # X escapes &, < and > in returned text and may trim whitespace.
    return " ".join(html.unescape(text).split())
