"""FakeMastodon: the Mastodon REST endpoints MastodonAdapter uses, as Mastodon or as Hollo answers them."""

from __future__ import annotations

import html
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from bot.testing import ServerPost
from tests.fakes.base import FakeServer, Request, Response

_URL = re.compile(r"https?://[^\s<]+")


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _linkify(url: str) -> str:
    # Mastodon's link HTML: scheme hidden, the first 30 characters shown, the rest hidden.
    scheme, rest = url.split("://", 1)
    shown, hidden = rest[:30], rest[30:]
    ellipsis = ' class="ellipsis"' if hidden else ' class=""'
    return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{scheme}://</span><span{ellipsis}>{html.escape(shown)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>')


def render(text: str) -> str:
    """Plain text as Mastodon renders `content`: paragraphs, <br />, linkified URLs."""
    paragraphs = []
    for block in text.split("\n\n"):
        pieces, last = [], 0
        for match in _URL.finditer(block):
            pieces.append(html.escape(block[last:match.start()], quote=False))
            pieces.append(_linkify(match.group(0)))
            last = match.end()
        pieces.append(html.escape(block[last:], quote=False))
        paragraphs.append("<p>" + "".join(pieces).replace("\n", "<br />") + "</p>")
    return "".join(paragraphs)


_MARKDOWN_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_BOOLEAN_FIELDS = ("sensitive",)
FLAVOURS = ("mastodon", "hollo")


def render_markdown(text: str) -> str:
    """Hollo's rendering, as far as these tests need it: `*x*` becomes emphasis."""
    return _MARKDOWN_EMPHASIS.sub(r"<em>\1</em>", render(text))


class FakeMastodon(FakeServer):
    """A Mastodon 4.3 instance: statuses, v2 media (processed after one poll), instance info.

    `flavour="hollo"` answers as Hollo does, the strictest Mastodon-API server people run: a
    boolean must be a JSON boolean (a form's "0"/"1" is a 422 naming the field), a query
    boolean only `true`/`false` (else 400), the form's `media_ids[]` is ignored (only a JSON
    body's `media_ids` attaches), ids are UUIDs, text is rendered as Markdown and kept as the
    source `text`, and the Idempotency-Key is honoured.
    """

    failures = frozenset({"server_error", "rate_limit", "unauthorized", "slow", "drop_after_store"})

    def __init__(self, access_token: str = "FAKE-mastodon-token-5f3a9c", max_characters: int = 500,
                 flavour: str = "mastodon") -> None:
        super().__init__()
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}")
        self.flavour = flavour
        self.access_token = access_token
        self.secrets = [access_token]
        self.max_characters = max_characters
        self._next_id = 113000000000000000
        # Knobs for the misbehaviour of some servers: media ids silently not attached, and
        # account-status lookups refused (as an older or stricter server answers a query).
        self.ignore_media = False
        self.refuse_lookups = False
        self.statuses: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        # OAuth (crieur auth): registered apps by client_id, and codes the "user" approved.
        self.apps: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.account = {"id": "109000000000000001" if flavour == "mastodon" else str(uuid.uuid4()), "username": "crieur", "acct": "crieur",
                        "display_name": "Crieur", "url": "", "created_at": "2024-01-01T00:00:00.000Z"}

    def routes(self):  # type: ignore[no-untyped-def]
        return [
            ("GET", r"/api/v1/instance/?", self.instance_v1),
            ("GET", r"/api/v2/instance/?", self.instance_v2),
            ("GET", r"/api/v1/accounts/verify_credentials", self.verify_credentials),
            ("GET", r"/api/v1/accounts/([^/]+)/statuses", self.account_statuses),
            ("POST", r"/api/v1/statuses", self.post_status),
            ("GET", r"/api/v1/statuses/([^/]+)", self.get_status),
            ("DELETE", r"/api/v1/statuses/([^/]+)", self.delete_status),
            ("GET", r"/api/v1/statuses/([^/]+)/context", self.status_context),
            ("POST", r"/api/v2/media", self.post_media),
            ("GET", r"/api/v1/media/([^/]+)", self.get_media),
            ("GET", r"/\.well-known/oauth-authorization-server", self.oauth_server_info),
            ("POST", r"/api/v1/apps", self.create_app),
            ("GET", r"/oauth/authorize", self.oauth_authorize),
            ("POST", r"/oauth/token", self.oauth_token),
        ]

    def dispatch(self, request: Request):  # type: ignore[no-untyped-def]
        public = request.path.startswith(("/api/v1/instance", "/api/v2/instance", "/api/v1/apps", "/oauth/",
                                           "/.well-known/"))
        if not public and request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return self.unauthorized()
        answer = super().dispatch(request)
        if isinstance(answer, Response):
            answer.headers.setdefault("X-RateLimit-Limit", "300")
            answer.headers.setdefault("X-RateLimit-Remaining", "299")
            answer.headers.setdefault("X-RateLimit-Reset", _iso(datetime.now(timezone.utc) + timedelta(minutes=5)))
        return answer

    def not_found(self, request: Request) -> Response:
        return Response(404, {"error": "Record not found"})

    def unauthorized(self) -> Response:
        return Response(401, {"error": "The access token is invalid"},
                        {"WWW-Authenticate": 'Bearer realm="Doorkeeper", error="invalid_token"'})

    def errors(self) -> dict[str, Any]:
        def rate_limit() -> Response:
            reset = self.rate_limit_reset
            assert reset is not None
            return Response(429, {"error": "Too many requests"},
                            {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                             "X-RateLimit-Reset": _iso(reset)})
        return {
            "server_error": lambda: Response(503, "<html><body><h1>503 Service Unavailable</h1></body></html>",
                                             content_type="text/html"),
            "rate_limit": rate_limit,
            "unauthorized": self.unauthorized,
        }

    # -- endpoints ------------------------------------------------------------------------------

    def _instance_config(self) -> dict[str, Any]:
        return {
            "urls": {"streaming": "wss://fake.example"},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {"max_characters": self.max_characters, "max_media_attachments": 4,
                         "characters_reserved_per_url": 23},
            "media_attachments": {"supported_mime_types": ["image/jpeg", "image/png", "image/gif"],
                                  "description_limit": 1500, "image_size_limit": 16777216,
                                  "image_matrix_limit": 33177600, "video_size_limit": 103809024,
                                  "video_frame_rate_limit": 120, "video_matrix_limit": 8294400},
            "polls": {"max_options": 4, "max_characters_per_option": 50,
                      "min_expiration": 300, "max_expiration": 2629746},
            "translation": {"enabled": False},
        }

    def instance_v1(self, request: Request, _: list[str]) -> Response:
        return Response(200, {"uri": "fake.example", "title": "Fake", "version": "4.3.0",
                              "urls": {"streaming_api": "wss://fake.example"},
                              "configuration": self._instance_config()})

    def instance_v2(self, request: Request, _: list[str]) -> Response:
        return Response(200, {"domain": "fake.example", "title": "Fake", "version": "4.3.0",
                              "source_url": "https://github.com/mastodon/mastodon",
                              "api_versions": {"mastodon": 2}, "configuration": self._instance_config(),
                              "registrations": {"enabled": False, "approval_required": False}})

    def verify_credentials(self, request: Request, _: list[str]) -> Response:
        return Response(200, self.account)

    def _new_id(self) -> str:
        """Mastodon's snowflake-like numeric ids, or Hollo's UUIDs."""
        if self.flavour == "hollo":
            return str(uuid.uuid4())
        self._next_id += 1
        return str(self._next_id)

    def account_statuses(self, request: Request, groups: list[str]) -> Response:
        if self.refuse_lookups:
            return Response(400, {"error": "Invalid query"})
        if self.flavour == "hollo":
            for name in ("exclude_reblogs", "exclude_replies", "only_media", "pinned"):
                value = request.arg(name)
                if value is not None and value not in ("true", "false"):
                    return Response(400, {"error": f"Invalid query: {name}: expected 'true' or 'false', "
                                                   f"received {value!r}"})
        limit = min(int(request.arg("limit", "20")), 40)
        with self.lock:
            page = list(reversed(self.statuses))[:limit]
        return Response(200, page)

    def get_status(self, request: Request, groups: list[str]) -> Response:
        with self.lock:
            found = next((s for s in self.statuses if s["id"] == groups[0]), None)
        return Response(200, found) if found else self.not_found(request)

    def status_context(self, request: Request, groups: list[str]) -> Response:
        """Ancestors and descendants of a status, as Mastodon's /context gives them (oldest first)."""
        with self.lock:
            by_id = {s["id"]: s for s in self.statuses}
            if groups[0] not in by_id:
                return self.not_found(request)
            ancestors, parent = [], by_id[groups[0]].get("in_reply_to_id")
            while parent in by_id:
                ancestors.insert(0, by_id[parent])
                parent = by_id[parent].get("in_reply_to_id")
            descendants, frontier = [], {groups[0]}
            for status in self.statuses:  # in creation order: a reply comes after its parent
                if status.get("in_reply_to_id") in frontier:
                    descendants.append(status)
                    frontier.add(status["id"])
        return Response(200, {"ancestors": ancestors, "descendants": descendants})

    def delete_status(self, request: Request, groups: list[str]) -> Response:
        with self.lock:
            found = next((s for s in self.statuses if s["id"] == groups[0]), None)
            if found is None:
                return self.not_found(request)
            self.statuses.remove(found)
            self.stored[:] = [p for p in self.stored if p.id != groups[0]]
        return Response(200, found)

    def _status_fields(self, request: Request) -> dict[str, list[Any]] | Response:
        """The status's fields as lists of values, from a JSON body or a form (Mastodon takes
        both); as Hollo: a JSON boolean only, and the form's `media_ids[]` ignored."""
        if "json" in (request.headers.get("Content-Type") or ""):
            body = request.json() or {}
            fields = {k: (v if isinstance(v, list) else [v]) for k, v in body.items()}
            if "media_ids" in fields:
                fields["media_ids[]"] = [str(m) for m in fields.pop("media_ids")]
        else:
            fields = {k: list(v) for k, v in parse_qs(request.body.decode()).items()}
        if self.flavour == "hollo":
            for name in _BOOLEAN_FIELDS:
                if name in fields and not isinstance(fields[name][0], bool):
                    received = type(fields[name][0]).__name__.replace("str", "string")
                    # Hono's zod validator, as Hollo answers: the explanation sits under "error".
                    return Response(422, {"success": False, "error": {"name": "ZodError", "issues": [
                        {"code": "invalid_type", "expected": "boolean", "received": received,
                         "path": [name], "message": f"Expected boolean, received {received}"}]}})
            if "json" not in (request.headers.get("Content-Type") or ""):
                fields.pop("media_ids[]", None)
        return fields

    def post_status(self, request: Request, _: list[str]) -> Any:
        form = self._status_fields(request)
        if isinstance(form, Response):
            return form
        text = str((form.get("status") or [""])[0])
        reply_to = (form.get("in_reply_to_id") or [None])[0]
        media_ids = [] if self.ignore_media else form.get("media_ids[]") or []
        key = request.headers.get("Idempotency-Key")
        with self.lock:
            # Mastodon answers a repeated Idempotency-Key with the status it created the first time.
            if key and key in self.by_key:
                return Response(200, self.by_key[key])
        if len(text) > self.max_characters:
            return Response(422, {"error": f"Validation failed: Text character limit of "
                                           f"{self.max_characters} exceeded"})
        for media_id in media_ids:
            if media_id not in self.media or not self.media[media_id]["ready"]:
                return Response(422, {"error": "Cannot attach files that have not finished processing. "
                                               "Try again in a moment!"})
        if reply_to is not None and not any(s["id"] == reply_to for s in self.statuses):
            return Response(404, {"error": "Record not found"})

        def store() -> Response:
            with self.lock:
                if key and key in self.by_key:
                    return Response(200, self.by_key[key])
                status_id = self._new_id()
                now = datetime.now(timezone.utc)
                status = {
                    "id": status_id, "created_at": _iso(now),
                    "in_reply_to_id": reply_to,
                    "in_reply_to_account_id": self.account["id"] if reply_to else None,
                    "sensitive": bool((form.get("spoiler_text") or [""])[0]),
                    "spoiler_text": (form.get("spoiler_text") or [""])[0],
                    "visibility": (form.get("visibility") or ["public"])[0],
                    "language": (form.get("language") or ["en"])[0],
                    "uri": f"https://fake.example/users/crieur/statuses/{status_id}",
                    "url": f"https://fake.example/@crieur/{status_id}",
                    "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
                    "content": render_markdown(text) if self.flavour == "hollo" else render(text),
                    "reblog": None, "account": self.account,
                    "media_attachments": [self._media_json(m) for m in media_ids],
                    "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
                }
                if self.flavour == "hollo":
                    status["text"] = text  # Hollo gives the Markdown source with the status
                self.statuses.append(status)
                if key:
                    self.by_key[key] = status
                alts = tuple(self.media[m]["description"] or "" for m in media_ids)
                self.stored.append(ServerPost(status_id, text, reply_to, alts))
            return Response(200, status)

        return self.with_failures(request, store, self.errors())

    def _media_json(self, media_id: str) -> dict[str, Any]:
        media = self.media[media_id]
        url = f"https://files.fake.example/media/{media_id}.png" if media["ready"] else None
        return {"id": media_id, "type": "image", "url": url, "preview_url": url, "remote_url": None,
                "description": media["description"], "blurhash": None, "meta": {}}

    def post_media(self, request: Request, _: list[str]) -> Response:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + request.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + request.body)
        fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        if "file" not in fields:
            return Response(422, {"error": "Validation failed: File can't be blank"})
        description = fields["description"].get_content() if "description" in fields else None
        with self.lock:
            media_id = self._new_id()
            # Processing finishes after the first poll: the adapter must wait for it.
            self.media[media_id] = {"description": description, "ready": False, "polls": 0,
                                    "uploaded": time.monotonic()}
            return Response(202, self._media_json(media_id))

    def get_media(self, request: Request, groups: list[str]) -> Response:
        with self.lock:
            media = self.media.get(groups[0])
            if media is None:
                return self.not_found(request)
            media["polls"] += 1
            if media["polls"] >= 2:
                media["ready"] = True
            return Response(200 if media["ready"] else 206, self._media_json(groups[0]))

    # -- OAuth: app registration and the authorisation-code flow (crieur auth mastodon) ----------

    SCOPES = frozenset({"read", "write", "follow", "push", "profile", "read:accounts", "read:statuses",
                        "write:statuses", "write:media", "read:notifications"})

    def oauth_server_info(self, request: Request, _: list[str]) -> Response:
        # Mastodon 4.3+ publishes its OAuth endpoints (RFC 8414); Mastodon.py follows them.
        return Response(200, {
            "issuer": self.url + "/", "authorization_endpoint": self.url + "/oauth/authorize",
            "token_endpoint": self.url + "/oauth/token", "revocation_endpoint": self.url + "/oauth/revoke",
            "scopes_supported": sorted(self.SCOPES), "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "app_registration_endpoint": self.url + "/api/v1/apps"})

    def _form(self, request: Request) -> dict[str, str]:
        if "json" in (request.headers.get("Content-Type") or ""):
            return {k: str(v) for k, v in (request.json() or {}).items()}
        return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}

    def create_app(self, request: Request, _: list[str]) -> Response:
        form = self._form(request)
        scopes = (form.get("scopes") or "read").split()
        if not form.get("client_name"):
            return Response(422, {"error": "Validation failed: Application name can't be blank"})
        if not form.get("redirect_uris"):
            return Response(422, {"error": "Validation failed: Redirect URI can't be blank"})
        unknown = [s for s in scopes if s not in self.SCOPES]
        if unknown:
            return Response(422, {"error": f"Validation failed: Scopes are invalid ({' '.join(unknown)})"})
        with self.lock:
            n = len(self.apps) + 1
            app = {"id": str(n), "name": form["client_name"], "website": form.get("website"),
                   "scopes": scopes, "redirect_uri": form["redirect_uris"],
                   "redirect_uris": form["redirect_uris"].split(), "client_id": f"fake-client-id-{n:04d}",
                   "client_secret": f"FAKE-client-secret-{n:04d}-7d1e", "client_secret_expires_at": 0,
                   "vapid_key": "BFAKE"}
            self.apps[app["client_id"]] = app
            self.secrets.append(app["client_secret"])
        return Response(200, app)

    def oauth_authorize(self, request: Request, _: list[str]) -> Response:
        """The page a signed-in user sees after clicking "Authorise": with the OOB redirect, the code."""
        app = self.apps.get(request.arg("client_id") or "")
        scopes = (request.arg("scope") or "read").split()
        if app is None or request.arg("response_type") != "code":
            return Response(400, "<html><body>Client authentication failed</body></html>", content_type="text/html")
        if request.arg("redirect_uri") not in app["redirect_uris"] or not set(scopes) <= set(app["scopes"]):
            return Response(400, "<html><body>The requested redirect uri or scope is invalid</body></html>",
                            content_type="text/html")
        with self.lock:
            code = f"fake-code-{len(self.codes) + 1:04d}-c0de"
            self.codes[code] = {"client_id": app["client_id"], "scopes": scopes,
                                "redirect_uri": request.arg("redirect_uri"), "used": False}
        return Response(200, f'<html><body><p>Copy this code and paste it into the application.</p>'
                             f'<input class="oauth-code" readonly type="text" value="{code}"></body></html>',
                        content_type="text/html; charset=utf-8")

    def oauth_token(self, request: Request, _: list[str]) -> Response:
        form = self._form(request)
        app = self.apps.get(form.get("client_id") or "")
        if app is None or form.get("client_secret") != app["client_secret"]:
            return Response(401, {"error": "invalid_client",
                                  "error_description": "Client authentication failed due to unknown client, no "
                                                       "client authentication included, or unsupported "
                                                       "authentication method."})
        if form.get("grant_type") != "authorization_code":
            return Response(400, {"error": "unsupported_grant_type",
                                  "error_description": "The authorization grant type is not supported."})
        with self.lock:
            grant = self.codes.get(form.get("code") or "")
            if (grant is None or grant["used"] or grant["client_id"] != app["client_id"]
                    or grant["redirect_uri"] != form.get("redirect_uri")):
                return Response(400, {"error": "invalid_grant",
                                      "error_description": "The provided authorization grant is invalid, expired, "
                                                          "revoked, does not match the redirection URI used in the "
                                                          "authorization request, or was issued to another client."})
            grant["used"] = True
        return Response(200, {"access_token": self.access_token, "token_type": "Bearer",
                              "scope": " ".join(grant["scopes"]), "created_at": int(time.time())})
