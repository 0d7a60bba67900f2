"""FakeMastodon: the Mastodon REST endpoints MastodonAdapter uses, as Mastodon, Hollo, GoToSocial
or Akkoma answers them (the differences, with their sources, are in tests.fakes.mastodon_flavours)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from bot.testing import ServerPost
from tests.fakes.base import FakeServer, Request, Response
from tests.fakes.mastodon_flavours import FLAVOURS as _RULES
from tests.fakes.mastodon_flavours import POST_FORMATS, render, render_markdown, with_markdown

__all__ = ["FLAVOURS", "FakeMastodon", "render", "render_markdown"]

FLAVOURS = tuple(_RULES)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_BOOLEAN_FIELDS = ("sensitive",)
_QUERY_BOOLEANS = ("exclude_reblogs", "exclude_replies", "only_media", "pinned")


class FakeMastodon(FakeServer):
    """A Mastodon 4.3 instance: statuses, v2 media (processed after one poll), instance info.

    Other flavours answer as those servers do, strictly:

    - `"hollo"`: a boolean must be a JSON boolean (a form's "0"/"1" is a 422 naming the field), a
      query boolean only `true`/`false` (else 400), the form's `media_ids[]` is ignored (only a
      JSON body's `media_ids` attaches), ids are UUIDs, text is rendered as Markdown and kept as
      the source `text`, and the Idempotency-Key is honoured.
    - `"gotosocial"`: ULID ids, 5000 characters counted with every URL in full (25 per URL is
      only what it reports), refusals are 400 "Bad Request: …", a JSON boolean must be a
      boolean, the source comes back as `text`, and Idempotency-Key is ignored: a repeated key
      creates a second status.
    - `"akkoma"`: flake ids, no /api/v2/instance (404) and a v1 instance without `configuration`
      (`max_toot_chars`, `upload_limit`, `description_limit`), booleans read as BooleanLike,
      the source under `akkoma.source`, and the first answer under an Idempotency-Key
      (a 422 or a 429 too) replayed with `idempotent-replayed: true`.
    """

    failures = frozenset({"server_error", "rate_limit", "unauthorized", "slow", "drop_after_store"})

    def __init__(self, access_token: str = "FAKE-mastodon-token-5f3a9c", max_characters: int | None = None,
                 flavour: str = "mastodon") -> None:
        super().__init__()
        if flavour not in _RULES:
            raise ValueError(f"flavour must be one of {FLAVOURS}")
        self.flavour = flavour
        self.rules = _RULES[flavour]
        self._ids = self.rules.new_ids()
        self._next_id = 113000000000000000  # Mastodon's snowflakes, counted here (tests add their own)
        self.access_token = access_token
        self.secrets = [access_token]
        self.max_characters = max_characters or self.rules.max_characters
        # Knobs for the misbehaviour of some servers: media ids silently not attached, and
        # account-status lookups refused (as an older or stricter server answers a query).
        self.ignore_media = False
        self.refuse_lookups = False
        # The account's own default post format where the server has one (GoToSocial, Akkoma):
        # "text/markdown" renders a status without `content_type` as Markdown.
        self.account_format = "text/plain"
        self.statuses: list[dict[str, Any]] = []
        # Idempotency-Key -> the answer given the first time (a status, or for Akkoma an error too)
        self.by_key: dict[str, Response] = {}
        self.media: dict[str, dict[str, Any]] = {}
        # OAuth (crieur auth): registered apps by client_id, and codes the "user" approved.
        self.apps: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.account = {"id": "109000000000000001" if flavour == "mastodon" else self._new_id(),
                        "username": "crieur", "acct": "crieur",
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
            ("POST", r"/api/v1/media", self.post_media_v1),
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
        rules = self.rules
        return {
            "urls": {"streaming": "wss://fake.example"},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {"max_characters": self.max_characters,
                         "max_media_attachments": rules.max_media_attachments,
                         "characters_reserved_per_url": rules.characters_reserved_per_url},
            "media_attachments": {"supported_mime_types": ["image/jpeg", "image/png", "image/gif"],
                                  "description_limit": 1500,
                                  "image_size_limit": 0 if self.flavour == "hollo" else 16777216,
                                  "image_matrix_limit": 33177600, "video_size_limit": 103809024,
                                  "video_frame_rate_limit": 120, "video_matrix_limit": 8294400},
            "polls": {"max_options": 4, "max_characters_per_option": 50,
                      "min_expiration": 300, "max_expiration": 2629746},
            "translation": {"enabled": False},
        }

    def instance_v1(self, request: Request, _: list[str]) -> Response:
        info: dict[str, Any] = {"uri": "fake.example", "title": "Fake", "version": self.rules.version_v1,
                                "urls": {"streaming_api": "wss://fake.example"}}
        if self.flavour == "akkoma":
            # No `configuration`: Pleroma's own keys (mastodon_api/views/instance_view.ex).
            info.update({"max_toot_chars": self.max_characters, "upload_limit": 16_000_000,
                         "description_limit": 5_000,
                         "poll_limits": {"max_options": 20, "max_option_chars": 200,
                                         "min_expiration": 0, "max_expiration": 31536000},
                         "pleroma": {"metadata": {"features": ["pleroma_api", "akkoma_api", "mastodon_api"],
                                                  "post_formats": ["text/plain", "text/html", "text/markdown"]}}})
        else:
            info["configuration"] = self._instance_config()
        if self.flavour == "gotosocial":
            info["max_toot_chars"] = self.max_characters  # "for compatibility with Tusky" (model/instancev1.go)
        return Response(200, info)

    def instance_v2(self, request: Request, _: list[str]) -> Response:
        rules = self.rules
        if rules.version_v2 is None:
            return self.not_found(request)
        info: dict[str, Any] = {"domain": "fake.example", "title": "Fake", "version": rules.version_v2,
                                "source_url": rules.source_url, "configuration": self._instance_config(),
                                "registrations": {"enabled": False, "approval_required": False}}
        if self.flavour == "mastodon":
            info["api_versions"] = {"mastodon": 2}
        return Response(200, info)

    def verify_credentials(self, request: Request, _: list[str]) -> Response:
        return Response(200, self.account)

    def _new_id(self) -> str:
        """Mastodon's snowflake-like numeric ids, else the flavour's (UUID, ULID, flake id)."""
        if self.flavour != "mastodon":
            return self._ids()
        with self.lock:
            self._next_id += 1
            return str(self._next_id)

    def account_statuses(self, request: Request, groups: list[str]) -> Response:
        if self.refuse_lookups:
            return Response(400, {"error": "Invalid query"})
        for name in _QUERY_BOOLEANS:
            value = request.arg(name)
            refusal = None if value is None else self.rules.query_boolean(name, value)
            if refusal is not None:
                return Response(*refusal)
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
        both), with the flavour's reading of booleans; as Hollo: the form's `media_ids[]` ignored."""
        json_body = "json" in (request.headers.get("Content-Type") or "")
        if json_body:
            body = request.json() or {}
            fields = {k: (v if isinstance(v, list) else [v]) for k, v in body.items()}
            if "media_ids" in fields:
                fields["media_ids[]"] = [str(m) for m in fields.pop("media_ids")]
        else:
            fields = {k: list(v) for k, v in parse_qs(request.body.decode()).items()}
        for name in _BOOLEAN_FIELDS:
            refusal = self.rules.body_boolean(name, fields[name][0], json_body) if name in fields else None
            if refusal is not None:
                return Response(*refusal)
        if self.flavour == "hollo" and not json_body:
            fields.pop("media_ids[]", None)
        return fields

    def _replay(self, key: str | None) -> Response | None:
        """The first answer under `key`, if the server keeps it (GoToSocial never does)."""
        if not key or not self.rules.honours_idempotency_key:
            return None
        with self.lock:
            first = self.by_key.get(key)
        if first is None:
            return None
        headers = {"Idempotency-Key": key}
        if self.rules.replays_errors:
            headers["Idempotent-Replayed"] = "true"  # IdempotencyPlug.send_cached
        return Response(first.status, first.body, headers)

    def _remember(self, key: str | None, answer: Response) -> Response:
        if key and self.rules.honours_idempotency_key and (answer.status < 400 or self.rules.replays_errors):
            with self.lock:
                self.by_key.setdefault(key, Response(answer.status, answer.body))
        return answer

    def post_status(self, request: Request, _: list[str]) -> Any:
        key = request.headers.get("Idempotency-Key")
        # Mastodon and Hollo answer a repeated key with the status created the first time; Akkoma
        # with whatever it answered the first time; GoToSocial ignores the header.
        replayed = self._replay(key)
        if replayed is not None:
            return replayed
        form = self._status_fields(request)
        if isinstance(form, Response):
            return self._remember(key, form)
        rules = self.rules
        text = str((form.get("status") or [""])[0])
        spoiler = str((form.get("spoiler_text") or [""])[0])
        reply_to = (form.get("in_reply_to_id") or [None])[0]
        media_ids = [] if self.ignore_media else form.get("media_ids[]") or []
        formats = POST_FORMATS.get(self.flavour)
        asked = (form.get("content_type") or [None])[0]
        if formats is not None and asked is not None and asked not in formats:
            return self._remember(key, Response(*rules.refusal(f"content type {asked} is not allowed")))
        markdown = formats is not None and (asked or self.account_format) == "text/markdown"
        length = rules.length(text, spoiler)
        if length > self.max_characters:
            return self._remember(key, Response(*rules.refusal(rules.too_long(self.max_characters, length))))
        for media_id in media_ids:
            if media_id not in self.media:
                return self._remember(key, Response(*rules.refusal(f"media {media_id} not found")))
            if not self.media[media_id]["ready"]:
                return Response(422, {"error": "Cannot attach files that have not finished processing. "
                                               "Try again in a moment!"})
        if reply_to is not None and not any(s["id"] == reply_to for s in self.statuses):
            if self.flavour == "akkoma":  # ActivityDraft.in_reply_to
                return self._remember(key, Response(422, {"error": "Parent post does not exist or was deleted"}))
            return Response(404, {"error": "Record not found"})

        def store() -> Response:
            with self.lock:
                replayed = self._replay(key)
                if replayed is not None:
                    return replayed
                status_id = self._new_id()
                now = datetime.now(timezone.utc)
                path = rules.status_path.format(id=status_id)
                status = {
                    "id": status_id, "created_at": _iso(now),
                    "in_reply_to_id": reply_to,
                    "in_reply_to_account_id": self.account["id"] if reply_to else None,
                    "sensitive": bool(spoiler),
                    "spoiler_text": spoiler,
                    "visibility": (form.get("visibility") or ["public"])[0],
                    "language": (form.get("language") or ["en"])[0],
                    "uri": f"https://fake.example/users/crieur/statuses/{status_id}",
                    "url": f"https://fake.example/{path}",
                    "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
                    "content": (with_markdown if markdown else str)(rules.render(rules.stored_text(text))),
                    "reblog": None, "account": self.account,
                    "media_attachments": [self._media_json(m) for m in media_ids],
                    "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
                    **rules.source_fields(text),
                }
                self.statuses.append(status)
                alts = tuple(self.media[m]["description"] or "" for m in media_ids)
                self.stored.append(ServerPost(status_id, rules.stored_text(text), reply_to, alts))
                return self._remember(key, Response(200, status))

        def remembered(kind: str) -> Any:
            answer = self.errors()[kind]()
            # Akkoma's RateLimiter is a controller plug, after IdempotencyPlug: its 429 is cached
            # too. A proxy's 503 and a refused token never reach the plug under this identity.
            return self._remember(key, answer) if kind == "rate_limit" else answer

        return self.with_failures(request, store, {kind: (lambda k=kind: remembered(k)) for kind in self.errors()})

    def _media_json(self, media_id: str) -> dict[str, Any]:
        media = self.media[media_id]
        url = f"https://files.fake.example/media/{media_id}.png" if media["ready"] else None
        return {"id": media_id, "type": "image", "url": url, "preview_url": url, "remote_url": None,
                "description": media["description"], "blurhash": None, "meta": {}}

    def _upload(self, request: Request, *, ready: bool) -> Response:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + request.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + request.body)
        fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        if "file" not in fields:
            return Response(422, {"error": "Validation failed: File can't be blank"})
        description = fields["description"].get_content() if "description" in fields else None
        with self.lock:
            media_id = self._new_id()
            self.media[media_id] = {"description": description, "ready": ready, "polls": 0,
                                    "uploaded": time.monotonic()}
            return Response(200 if ready else 202, self._media_json(media_id))

    def post_media(self, request: Request, _: list[str]) -> Response:
        # Mastodon processes v2 uploads after answering (the adapter must wait for `url`);
        # GoToSocial (api/client/media/mediacreate.go) and Akkoma (MediaController.create2)
        # answer once the file is stored, `url` set.
        return self._upload(request, ready=self.flavour in ("gotosocial", "akkoma"))

    def post_media_v1(self, request: Request, _: list[str]) -> Response:
        # The synchronous v1 upload, which Mastodon.py uses when the version says < 3.1.4
        # (GoToSocial's "0.17.3", Akkoma's "2.7.2 (compatible; …)", Hollo's "0.6.0").
        return self._upload(request, ready=True)

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
