"""ThreadsAdapter: posts to the "Threads" API with requests; the server deduplicates by key."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from bot.adapters import AuthFailed, OutcomeUnknown, RateLimited, Rejected, Transient
from bot.adapters.base import Adapter, OutgoingPost, RemoteRef, network_error
from bot.errors import BadInput


class ThreadsAdapter(Adapter):
    name = "threads"
    idempotent = True  # POST /v1/posts with a key already used returns the first post

    def __init__(self, base: str, token: str, session: requests.Session, timeout: float) -> None:
        self.base, self.token, self.session, self.timeout = base.rstrip("/"), token, session, timeout
        self._headers: dict[str, str] = {}

    @classmethod
    def from_account(cls, settings: dict[str, Any], credentials: dict[str, str], *,
                     session: requests.Session | None = None, timeout: float = 10.0,
                     state_dir: Path | None = None) -> ThreadsAdapter:
        token = credentials.get("api_token")
        if not token:
            raise BadInput("threads: api_token is missing")
        return cls(str(settings["api_base"]), token, session or requests.Session(), timeout)

    def _call(self, method: str, path: str, *, sent: bool, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        try:
            response = self.session.request(method, self.base + path, headers=headers,
                                            timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise network_error(exc, sent=sent, platform=self.name) from None
        self._headers = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-threads-")}
        if response.status_code == 401:
            raise AuthFailed("the token was refused", platform=self.name)
        if response.status_code == 429:
            reset = int(response.headers.get("x-threads-reset") or 0)
            raise RateLimited(datetime.fromtimestamp(reset, timezone.utc), platform=self.name)
        if response.status_code == 404 and method == "GET":
            return None
        if 400 <= response.status_code < 500:
            raise Rejected("invalid", response.text, platform=self.name)
        if response.status_code >= 500:
            error = OutcomeUnknown if sent else Transient
            raise error(f"server error {response.status_code}", platform=self.name)
        return response.json()

    def publish(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef:
        body = {"text": post.text, "reply_to": reply_to.id if reply_to else None, "media": list(post.media_ids)}
        made = self._call("POST", "/v1/posts", sent=True, json=body,
                          headers={"Idempotency-Key": post.idempotency_key})
        return RemoteRef(made["id"], made["url"])

    def upload_media(self, path: Path, alt: str) -> str:
        made = self._call("POST", "/v1/media", sent=False, data=Path(path).read_bytes(),
                          headers={"X-Alt": alt.encode("utf-8").hex()})
        return str(made["id"])

    def verify(self) -> str:
        return "@" + self._call("GET", "/v1/me", sent=False)["username"]

    def find_existing(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef | None:
        found = self._call("GET", "/v1/posts", sent=False, params={"key": post.idempotency_key})
        return RemoteRef(found["id"], found["url"]) if found else None

    def rate_limit(self) -> dict[str, str] | None:
        return dict(self._headers) or None

    def close(self) -> None:
        self.session.close()
