"""FakeThreads: the made-up "Threads" API of the third-party plug-in in tests/data/plugins."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from bot.testing import ServerPost
from tests.fakes.base import FakeServer, Request, Response


class FakeThreads(FakeServer):
    """Bearer-token API: POST /v1/media (raw bytes, alt as hex in X-Alt), POST /v1/posts (JSON,
    Idempotency-Key required and honoured), GET /v1/posts?key=K, GET /v1/me."""

    def __init__(self) -> None:
        super().__init__()
        self.token = secrets.token_hex(8)
        self._ids = itertools.count(1000)
        self.media: dict[str, str] = {}
        self.by_key: dict[str, dict[str, Any]] = {}

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/v1/me", lambda r, g: self._authed(r, lambda: Response(200, {"username": "desk"}))),
            ("POST", r"/v1/media", lambda r, g: self._authed(r, lambda: self._upload(r))),
            ("POST", r"/v1/posts", lambda r, g: self._authed(r, lambda: self._create(r))),
            ("GET", r"/v1/posts", lambda r, g: self._authed(r, lambda: self._lookup(r))),
        ]

    def _authed(self, request: Request, answer: Any) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Response(401, {"error": "bad token"})
        return answer()

    def _upload(self, request: Request) -> Response:
        media_id = f"M{next(self._ids)}"
        self.media[media_id] = bytes.fromhex(request.headers.get("X-Alt") or "").decode("utf-8")
        return Response(200, {"id": media_id})

    def _create(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return Response(422, {"error": "Idempotency-Key is required"})
        body = request.json()
        with self.lock:
            if key in self.by_key:
                return Response(200, self.by_key[key])
            if len(body["text"]) > 2000 or any(m not in self.media for m in body.get("media", [])):
                return Response(422, {"error": "invalid post"})
            post_id = f"T{next(self._ids)}"
            made = {"id": post_id, "url": f"https://threads.example/t/{post_id}"}
            self.by_key[key] = made
            self.stored.append(ServerPost(post_id, body["text"], body.get("reply_to"),
                                          tuple(self.media[m] for m in body.get("media", []))))
        return Response(200, made, headers={"X-Threads-Remaining": "240", "X-Threads-Reset": "4102444800"})

    def _lookup(self, request: Request) -> Response:
        found = self.by_key.get(request.arg("key") or "")
        return Response(200, found) if found else Response(404, {"error": "no such post"})
