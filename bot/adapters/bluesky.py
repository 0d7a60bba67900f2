"""BlueskyAdapter: posts to a Bluesky PDS through the atproto SDK, with idempotent record keys."""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import regex

from bot.adapters.base import Adapter, OutgoingPost, RemoteRef, network_error
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

try:
    import httpx
    from atproto import Client, SessionEvent
    from atproto_client import exceptions as at_errors
    from atproto_client.request import Request
except ImportError as exc:  # atproto is the optional extra crieur[bluesky]
    raise ImportError("the bluesky adapter needs the atproto SDK: pip install 'crieur[bluesky]'") from exc

POST = "app.bsky.feed.post"
DEFAULT_SERVICE = "https://bsky.social"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# Error names a PDS uses for a bad or expired session (some versions answer them with 400).
_AUTH_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing",
                "AccountTakedown", "AccountDeactivated"}
# @atproto/api's TAG_REGEX: '#' after whitespace (or at the start), not only digits/punctuation.
_TAG_STOP = r"\s\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(
    rf"(?:^|\s)([#\uff03]((?!\ufe0f)[^{_TAG_STOP}]*[^\d\p{{P}}{_TAG_STOP}]+[^{_TAG_STOP}]*))"
)
_TAG_TRAILING = regex.compile(r"\p{P}+$")
# @atproto/api's URL_REGEX, schemeless branch: a bare domain after a space, "(" or the start.
_BARE_DOMAIN = regex.compile(r"(?:^|(?<=[\s(]))((?P<domain>[a-z][a-z0-9]*(?:\.[a-z0-9]+)+)\S*)", regex.IGNORECASE)
_LINK_TRAILING = regex.compile(r"[.,;:!?\u2026\u2013\u2014]+$")
# @atproto/api's CASHTAG_REGEX: `$` and a 1–5 character ticker, between boundaries.
_CASHTAG = regex.compile(r"(?:^|(?<=[\s(]))\$([A-Za-z][A-Za-z0-9]{0,4})(?=[\s.,;:!?)\"'\u2019]|$)")
_AT_URI = re.compile(r"^at://(?P<repo>[^/]+)/(?P<collection>[^/]+)/(?P<rkey>[^/]+)$")


def record_key(idempotency_key: str) -> str:
    """A TID-syntax record key derived from `idempotency_key` (same key, same rkey).

    `app.bsky.feed.post` records must have TID keys (13 base32-sortable characters, top bit zero).
    The bits come from a hash, so the TID's timestamp is not the posting time; nothing relies on it
    (the app orders posts by `createdAt`), and determinism is what makes a retry land on the same
    record instead of creating a second one.
    """
    value = int.from_bytes(hashlib.sha256(idempotency_key.encode("utf-8")).digest()[:8], "big") >> 1
    return "".join(_TID_ALPHABET[(value >> (5 * (12 - i))) & 31] for i in range(13))


def rich_text(text: str) -> tuple[str, list[dict[str, Any]]]:
    """The text as posted (long links shortened as the Bluesky app does) and its link and tag facets.

    Facet offsets are UTF-8 byte offsets into the returned text; link facets carry the full URL.
    """
    from bot.platforms.bluesky import MAX_TAG_LENGTH, link_spans, to_short_url

    out: list[str] = []
    facets: list[dict[str, Any]] = []
    position = 0  # bytes written so far
    last = 0
    for start, end in link_spans(text):
        before = text[last:start]
        out.append(before)
        position += len(before.encode("utf-8"))
        url = text[start:end]
        shown = to_short_url(url)
        out.append(shown)
        size = len(shown.encode("utf-8"))
        facets.append({"index": {"byteStart": position, "byteEnd": position + size},
                       "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}]})
        position += size
        last = end
    out.append(text[last:])
    shown_text = "".join(out)
    facets += _bare_domain_facets(shown_text)
    for match in _TAG.finditer(shown_text):
        tag = _TAG_TRAILING.sub("", match.group(2))
        if not tag or len(tag.encode("utf-16-le")) // 2 > MAX_TAG_LENGTH:
            continue
        start = len(shown_text[: match.start(1)].encode("utf-8"))
        end = start + len((match.group(1)[0] + tag).encode("utf-8"))
        facets.append({"index": {"byteStart": start, "byteEnd": end},
                       "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}]})
    for match in _CASHTAG.finditer(shown_text):
        start = len(shown_text[: match.start()].encode("utf-8"))
        facets.append({"index": {"byteStart": start, "byteEnd": start + 1 + len(match.group(1))},
                       "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "$" + match.group(1).upper()}]})
    return shown_text, _without_overlaps(facets)


def _bare_domain_facets(text: str) -> list[dict[str, Any]]:
    """Link facets for bare domains (`lemonde.fr/x`), as the Bluesky app makes them: a known
    TLD, not followed by "(" (a method call), trailing punctuation and unbalanced ")" left out,
    the link to https://; the text itself is not shortened."""
    known = _known_tlds()
    facets: list[dict[str, Any]] = []
    for match in _BARE_DOMAIN.finditer(text):
        domain = match["domain"]
        if domain.rsplit(".", 1)[1].lower() not in known or text[match.end("domain"):].startswith("("):
            continue
        linked = _LINK_TRAILING.sub("", match.group(1))
        while linked.endswith(")") and linked.count(")") > linked.count("("):
            linked = _LINK_TRAILING.sub("", linked[:-1])
        if len(linked) < len(domain):
            continue
        start = len(text[: match.start(1)].encode("utf-8"))
        facets.append({"index": {"byteStart": start, "byteEnd": start + len(linked.encode("utf-8"))},
                       "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://" + linked}]})
    return facets


@functools.cache
def _known_tlds() -> frozenset[str]:
    """twitter-text's TLD list (the counters' own), as a set for the bare-domain check."""
    from bot.platforms.tlds import COUNTRY_TLDS, GENERIC_TLDS

    return frozenset(tld.lower() for tld in GENERIC_TLDS + COUNTRY_TLDS)


def _without_overlaps(facets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Facets in text order, a later one dropped where it overlaps one kept (links come first:
    a `$X` inside a URL is no cashtag), as the app does: readers skip overlapping facets."""
    kept: list[dict[str, Any]] = []
    for facet in facets:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        if not any(start < k["index"]["byteEnd"] and end > k["index"]["byteStart"] for k in kept):
            kept.append(facet)
    return sorted(kept, key=lambda f: f["index"]["byteStart"])


class BlueskyAdapter(Adapter):
    """Bluesky through the atproto SDK (`pip install 'crieur[bluesky]'`).

    Settings: `service` (PDS URL, default https://bsky.social). Credentials: `handle`,
    `app_password`. The session is saved under `state_dir` (0600) and reused, because session
    creation is limited (30 per 5 minutes). Each post's record key derives from its idempotency
    key: publishing the same post again returns the existing record instead of a copy.
    Media ids returned by `upload_media` are valid in this adapter instance only.
    """

    name = "bluesky"
    idempotent = True

    def __init__(self, client: Client, *, handle: str, password: str, service: str,
                 session_file: Path | None, secrets: list[str]) -> None:
        self._client = client
        self._handle = handle
        self._password = password
        self._service = service
        self._session_file = session_file
        self._secrets = secrets
        self._logged_in = False
        self._blobs: dict[str, dict[str, Any]] = {}
        # uri -> (cid, root uri, root cid) for the posts this instance made: saves a read per reply
        self._refs: dict[str, tuple[str, str, str]] = {}

    @classmethod
    def from_account(cls, settings: dict[str, Any], credentials: dict[str, str], *,
                     session: Any = None, timeout: float = 10.0,
                     state_dir: Path | None = None) -> BlueskyAdapter:
        # `session` (a requests.Session) does not apply: atproto speaks through httpx.
        handle = credentials.get("handle") or settings.get("handle")
        password = credentials.get("app_password")
        if not handle or not password:
            raise BadInput("bluesky: credentials need a handle and an app_password")
        service = settings.get("service") or settings.get("instance") or DEFAULT_SERVICE
        client = Client(base_url=service, request=Request(timeout=timeout))
        session_file = None
        if state_dir is not None:
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", handle)
            session_file = Path(state_dir) / f"bluesky-{safe}.session"
        adapter = cls(client, handle=handle, password=password, service=service,
                      session_file=session_file, secrets=[v for v in credentials.values() if v])
        client.on_session_change(adapter._save_session)
        return adapter

    # -- the contract -------------------------------------------------------------------------

    def publish(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef:
        self._login()
        rkey = record_key(post.idempotency_key)
        text, facets = rich_text(post.text)
        record: dict[str, Any] = {"$type": POST, "text": text,
                                  "createdAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds")
                                  .replace("+00:00", "Z")}
        if facets:
            record["facets"] = facets
        if post.lang:
            record["langs"] = [post.lang]
        reply = self._reply_refs(reply_to) if reply_to else None
        if reply:
            record["reply"] = reply
        if post.media_ids:
            record["embed"] = {"$type": "app.bsky.embed.images",
                               "images": [self._image(media_id) for media_id in post.media_ids]}
        data = {"repo": self._did(), "collection": POST, "rkey": rkey, "record": record}
        try:
            created = self._call(self._client.com.atproto.repo.create_record, data, sent=True)
        except Rejected:
            # Most likely the key was used already: an earlier attempt went through (PDSs answer
            # 409, 400 or even 500 for an existing record key). Return that post if it is ours.
            existing = self._existing(rkey, text, reply)
            if existing is None:
                raise
            return existing
        except Transient as exc:
            if isinstance(exc, OutcomeUnknown):
                raise  # the caller settles it: publish again (same rkey) or find_existing
            # The reference PDS answers 500 for an existing record key: look before retrying. A
            # key holding a different post is a collision, not a passing fault: retrying cannot help.
            try:
                existing = self._existing(rkey, text, reply)
            except Rejected as collision:
                raise collision from exc
            except AdapterError:
                existing = None
            if existing is None:
                raise
            return existing
        root = reply["root"] if reply else {"uri": created.uri, "cid": created.cid}
        self._refs[created.uri] = (created.cid, root["uri"], root["cid"])
        return RemoteRef(created.uri, self._web_url(created.uri))

    def upload_media(self, path: Path, alt: str) -> str:
        self._login()
        path = Path(path)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = path.read_bytes()
        max_bytes = self.limits().max_image_bytes
        if len(data) > max_bytes:
            raise Rejected("too_large", f"{path.name} is {len(data)} bytes; Bluesky takes "
                           f"{max_bytes}", platform=self.name)
        # uploadBlob only stores bytes: repeating it is harmless, so no outcome is ever unknown.
        uploaded = self._call(self._client.com.atproto.repo.upload_blob, data, sent=False,
                              headers={"Content-Type": mime})
        blob = uploaded.blob
        link = str(blob.ref.link if hasattr(blob.ref, "link") else blob.cid)
        self._blobs[link] = {"alt": alt or "", "image": {
            "$type": "blob", "ref": {"$link": link}, "mimeType": blob.mime_type, "size": blob.size}}
        return link

    def verify(self) -> str:
        self._login()
        profile = self._call(self._client.app.bsky.actor.get_profile, {"actor": self._did()}, sent=False)
        return f"@{profile.handle}"

    def find_existing(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef | None:
        # The record key is a function of the idempotency key: one read settles it.
        try:
            self._login()
            text, _ = rich_text(post.text)
            reply = self._reply_refs(reply_to) if reply_to else None
            return self._existing(record_key(post.idempotency_key), text, reply, strict=False)
        except (Transient, RateLimited) as exc:
            raise OutcomeUnknown(f"cannot read the record: {exc.message}", platform=self.name) from exc

    def close(self) -> None:
        self._client.request.close()

    # -- session ------------------------------------------------------------------------------

    def _login(self, *, fresh: bool = False) -> None:
        """Resume the saved session (no request), or create one with the app password."""
        if self._logged_in:
            return
        saved = None if fresh else self._load_session()
        if saved:
            try:
                self._call(self._client.login, session_string=saved, fetch_bsky_profile=False,
                           sent=False, relogin=False)
                self._logged_in = True
                return
            except AuthFailed:
                pass  # refresh token expired or revoked: create a new session below
        self._call(self._client.login, login=self._handle, password=self._password,
                   fetch_bsky_profile=False, sent=False, relogin=False)
        self._logged_in = True

    def _save_session(self, event: SessionEvent, _session: Any) -> None:
        if self._session_file is None or event not in (SessionEvent.CREATE, SessionEvent.REFRESH):
            return
        self._session_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._session_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self._client.export_session_string())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._session_file)

    def _load_session(self) -> str | None:
        if self._session_file is None or not self._session_file.exists():
            return None
        return self._session_file.read_text().strip() or None

    def _did(self) -> str:
        return self._client._session.did  # noqa: SLF001 - the SDK exposes no public accessor

    # -- records ------------------------------------------------------------------------------

    def _reply_refs(self, reply_to: RemoteRef) -> dict[str, Any]:
        known = self._refs.get(reply_to.id)
        if known is None:
            parent = self._get(reply_to.id)
            if parent is None:
                raise Rejected("not_found", f"the post to reply to is gone: {reply_to.id}", platform=self.name)
            cid, value = parent
            reply = getattr(value, "reply", None)
            root = (reply.root.uri, reply.root.cid) if reply else (reply_to.id, cid)
            known = (cid, root[0], root[1])
            self._refs[reply_to.id] = known
        cid, root_uri, root_cid = known
        return {"root": {"uri": root_uri, "cid": root_cid}, "parent": {"uri": reply_to.id, "cid": cid}}

    def _get(self, uri: str) -> tuple[str, Any] | None:
        match = _AT_URI.match(uri)
        if not match:
            raise Rejected("invalid", f"not an at:// post URI: {uri}", platform=self.name)
        try:
            found = self._call(self._client.com.atproto.repo.get_record, match.groupdict(), sent=False,
                               not_found_ok=True)
        except LookupError:
            return None
        return str(found.cid), found.value

    def _existing(self, rkey: str, text: str, reply: dict[str, Any] | None, *,
                  strict: bool = True) -> RemoteRef | None:
        """The post at `rkey` if it has this text and reply target; None if there is none.

        :raises Rejected: (when `strict`) the key holds a different post
        """
        uri = f"at://{self._did()}/{POST}/{rkey}"
        found = self._get(uri)
        if found is None:
            return None
        cid, value = found
        their_parent = getattr(getattr(value, "reply", None), "parent", None)
        same_target = (their_parent.uri if their_parent else None) == (reply["parent"]["uri"] if reply else None)
        if getattr(value, "text", None) != text or not same_target:
            if not strict:
                return None
            raise Rejected("duplicate", f"record key {rkey} already holds a different post", platform=self.name)
        root = reply["root"] if reply else {"uri": uri, "cid": cid}
        self._refs[uri] = (cid, root["uri"], root["cid"])
        return RemoteRef(uri, self._web_url(uri))

    def _image(self, media_id: str) -> dict[str, Any]:
        try:
            return self._blobs[media_id]
        except KeyError:
            raise Rejected("invalid", f"unknown media id {media_id} (upload it with this adapter)",
                           platform=self.name) from None

    def _web_url(self, uri: str) -> str:
        match = _AT_URI.match(uri)
        handle = self._client._session.handle if self._client._session else self._handle  # noqa: SLF001
        return f"https://bsky.app/profile/{handle}/post/{match['rkey'] if match else ''}"

    # -- errors -------------------------------------------------------------------------------

    def _call(self, method: Any, *args: Any, sent: bool, relogin: bool = True,
              not_found_ok: bool = False, **kwargs: Any) -> Any:
        """Run an SDK call, mapping errors; a refused saved session is replaced once by a new one."""
        try:
            return method(*args, **kwargs)
        except at_errors.RequestErrorBase as exc:
            error = self._request_error(exc, sent=sent)
            if not_found_ok and isinstance(error, Rejected) and error.reason == "not_found":
                raise LookupError(error.message) from exc
            if relogin and isinstance(error, AuthFailed) and self._logged_in:
                self._logged_in = False
                self._login(fresh=True)
                return self._call(method, *args, sent=sent, relogin=False, not_found_ok=not_found_ok, **kwargs)
            raise error from exc
        except httpx.HTTPError as exc:
            raise self._network(exc, sent) from exc
        except at_errors.AtProtocolError as exc:
            raise Rejected("invalid", redact(str(exc) or type(exc).__name__, self._secrets),
                           platform=self.name) from exc

    def _network(self, exc: BaseException, sent: bool) -> Transient:
        error = network_error(exc.__cause__ or exc, sent=sent, platform=self.name)
        return type(error)(redact(error.message, self._secrets), platform=self.name)

    def _request_error(self, exc: at_errors.RequestErrorBase, *, sent: bool) -> AdapterError:
        response = exc.response
        if response is None:  # a transport failure: the httpx exception is the cause
            return self._network(exc, sent)
        content = response.content
        name = getattr(content, "error", None) or ""
        text = getattr(content, "message", None) or ""
        message = redact(f"{response.status_code} {name}: {text}".strip(" :"), self._secrets)
        status = response.status_code
        if status == 429 or name == "RateLimitExceeded":
            return RateLimited(_reset_time(response.headers), message, platform=self.name)
        if status == 401 or name in _AUTH_ERRORS:
            return AuthFailed(message, platform=self.name)
        if name in {"RecordNotFound", "NotFound"} or status == 404:
            return Rejected("not_found", message, platform=self.name)
        if status >= 500 and "already exists" not in text.lower():
            return Transient(message, platform=self.name)
        if status == 409 or "already exists" in text.lower():
            return Rejected("duplicate", message, platform=self.name)
        if status == 413:
            return Rejected("too_large", message, platform=self.name)
        if status == 403:
            return AuthFailed(message, platform=self.name)
        return Rejected("invalid", message, platform=self.name)


def _reset_time(headers: dict[str, Any]) -> datetime:
    """The PDS's `ratelimit-reset` (epoch seconds); 5 minutes from now without it."""
    try:
        return datetime.fromtimestamp(int(headers.get("ratelimit-reset")), tz=timezone.utc)
    except (TypeError, ValueError):
        return datetime.now(timezone.utc) + timedelta(minutes=5)
