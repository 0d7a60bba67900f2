"""The desk's gate: loopback by default, a token elsewhere (exchanged once for a session cookie), CSRF."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

SESSION_COOKIE = "crieur_session"
CSRF_COOKIE = "crieur_csrf"
REVIEWER_COOKIE = "crieur_reviewer"
TOKEN_ENV = "CRIEUR_DESK_TOKEN"

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`: addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def session_value(token: str) -> str:
    """The session cookie for `token`: a keyed hash, so the cookie never carries the token itself,
    outlives a restart of the desk, and stops working when the token changes."""
    return hmac.new(token.encode(), b"crieur-desk-session-v1", hashlib.sha256).hexdigest()


def new_csrf_value() -> str:
    return secrets.token_urlsafe(24)


def cookies_of(scope: Scope) -> dict[str, str]:
    """The request's cookies (malformed ones ignored)."""
    raw = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie").decode("latin-1")
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header is the client's problem, not a reason to fail
        return {}
    return {k: m.value for k, m in jar.items()}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class TokenGate:
    """ASGI middleware: with a token, every request must carry the session cookie, or present the
    token once (`?token=` — answered with a redirect that sets the cookie and drops the token from
    the address — or `Authorization: Bearer`); anything else gets 401. Without a token (loopback
    only) it lets everything through."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token) if token else None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.token is None:
            await self.app(scope, receive, send)
            return
        if hmac.compare_digest(cookies_of(scope).get(SESSION_COOKIE, ""), self.session or ""):
            await self.app(scope, receive, send)
            return
        auth = _header(scope, b"authorization") or ""
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip().encode(), self.token.encode()):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = next((v for k, v in query if k == "token"), None)
        if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            location = scope.get("path", "/") + (f"?{rest}" if rest else "")
            secure = "; Secure" if scope.get("scheme") == "https" else ""
            await _respond(send, 303, b"", [
                (b"location", location.encode()),
                (b"set-cookie", f"{SESSION_COOKIE}={self.session}; HttpOnly; SameSite=Strict; Path=/{secure}".encode()),
            ])
            return
        body = (
            "<!doctype html><meta charset=utf-8><title>Crieur desk: token needed</title>"
            "<body style='font-family:system-ui;max-width:36rem;margin:4rem auto;line-height:1.5'>"
            "<h1>Token needed</h1><p>This desk is served with a token. Open it once with "
            "<code>?token=…</code> added to its address (the token given to <code>crieur serve</code> "
            f"with --token or ${TOKEN_ENV}); the browser then keeps a session cookie.</p></body>"
        ).encode()
        await _respond(send, 401, body, [(b"content-type", b"text/html; charset=utf-8"),
                                         (b"www-authenticate", b'Bearer realm="crieur desk"')])


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


def same_origin(scope: Scope) -> bool:
    """False when the browser says the request comes from another site (Origin or Sec-Fetch-Site)."""
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = _header(scope, b"origin")
    if origin is None or origin == "null":
        # No origin said: an old browser, or a client like curl (it still needs the CSRF cookie).
        return origin is None or site == "same-origin"
    host = _header(scope, b"host") or ""
    return origin.split("://", 1)[-1].rstrip("/") == host
