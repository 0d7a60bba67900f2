"""FakeBluesky: the XRPC endpoints BlueskyAdapter uses (sessions, records, blobs, profiles)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Any

from bot.testing import ServerPost
from tests.fakes.base import FakeServer, Request, Response

_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def _jwt(payload: dict[str, Any]) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    return ".".join([b64(json.dumps({"typ": "at+jwt", "alg": "ES256K"}).encode()),
                     b64(json.dumps(payload).encode()), b64(b"fake-signature")])


def _cid(data: bytes, prefix: str = "bafyrei") -> str:
    return prefix + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")[:52]


def xrpc_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"error": error, "message": message}, headers or {})


class FakeBluesky(FakeServer):
    """A PDS: createSession / refreshSession, createRecord (TID rkeys, duplicate rkey refused),
    getRecord, listRecords, uploadBlob, getProfile; XRPC error bodies and ratelimit-* headers."""

    failures = frozenset({"server_error", "rate_limit", "unauthorized", "slow", "drop_after_store"})

    def __init__(self, handle: str = "crieur.test", app_password: str = "fake-app-pass-word-7e1d",
                 access_lifetime: int = 7200) -> None:
        super().__init__()
        self.handle = handle
        self.app_password = app_password
        self.secrets = [app_password]
        self.existing_key_status = 400  # what createRecord answers for a record key in use
        self.did = "did:plc:fakecrieur0000000000000a"
        self.access_lifetime = access_lifetime
        self.sessions_created = 0
        self.refuse_sessions = 0
        self.records: dict[str, dict[str, Any]] = {}  # rkey -> {"uri", "cid", "value"}
        self.blobs: dict[str, bytes] = {}
        self._access: set[str] = set()
        self._refresh: set[str] = set()

    def routes(self):  # type: ignore[no-untyped-def]
        x = "/xrpc/"
        return [
            ("POST", x + r"com\.atproto\.server\.createSession", self.create_session),
            ("POST", x + r"com\.atproto\.server\.refreshSession", self.refresh_session),
            ("POST", x + r"com\.atproto\.repo\.createRecord", self.create_record),
            ("GET", x + r"com\.atproto\.repo\.getRecord", self.get_record),
            ("GET", x + r"com\.atproto\.repo\.listRecords", self.list_records),
            ("POST", x + r"com\.atproto\.repo\.uploadBlob", self.upload_blob),
            ("GET", x + r"app\.bsky\.actor\.getProfile", self.get_profile),
        ]

    def not_found(self, request: Request) -> Response:
        return xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")

    def _limit_headers(self, remaining: int = 4999, reset: int | None = None) -> dict[str, str]:
        return {"ratelimit-limit": "5000", "ratelimit-remaining": str(remaining),
                "ratelimit-reset": str(reset if reset is not None else int(time.time()) + 3600),
                "ratelimit-policy": "5000;w=3600"}

    def _authorised(self, request: Request, tokens: set[str]) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in tokens

    def revoke_sessions(self) -> None:
        """Forget every issued token (as a PDS does when the app password is revoked and recreated)."""
        with self.lock:
            self._access.clear()
            self._refresh.clear()

    # -- sessions -------------------------------------------------------------------------------

    def _new_session(self) -> dict[str, Any]:
        now = int(time.time())
        access = _jwt({"scope": "com.atproto.appPass", "sub": self.did, "iat": now,
                       "exp": now + self.access_lifetime, "aud": "did:web:fake.pds", "n": len(self._access)})
        refresh = _jwt({"scope": "com.atproto.refresh", "sub": self.did, "iat": now,
                        "exp": now + 90 * 86400, "jti": f"r{len(self._refresh)}", "aud": "did:web:fake.pds"})
        with self.lock:
            self._access.add(access)
            self._refresh.add(refresh)
        return {"accessJwt": access, "refreshJwt": refresh, "handle": self.handle, "did": self.did,
                "active": True}

    def create_session(self, request: Request, _: list[str]) -> Response:
        body = request.json() or {}
        with self.lock:
            refuse = self.refuse_sessions > 0
            self.refuse_sessions = max(0, self.refuse_sessions - 1)
        if refuse or body.get("identifier") not in (self.handle, self.did) or body.get("password") != self.app_password:
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        with self.lock:
            self.sessions_created += 1
        return Response(200, self._new_session(), self._limit_headers())

    def refresh_session(self, request: Request, _: list[str]) -> Response:
        if not self._authorised(request, self._refresh):
            return xrpc_error(400, "ExpiredToken", "Token has been revoked")
        with self.lock:
            self._refresh.discard(request.headers["Authorization"][7:])
        return Response(200, self._new_session(), self._limit_headers())

    # -- records --------------------------------------------------------------------------------

    def errors(self) -> dict[str, Any]:
        return {
            "server_error": lambda: xrpc_error(502, "UpstreamFailure", "Upstream Failure"),
            "rate_limit": lambda: xrpc_error(
                429, "RateLimitExceeded", "Rate Limit Exceeded",
                self._limit_headers(0, int(self.rate_limit_reset.timestamp()))),  # type: ignore[union-attr]
            "unauthorized": self._revoked,
        }

    def _revoked(self) -> Response:
        # The app password was revoked: every token dies and the next createSession fails too.
        self.revoke_sessions()
        with self.lock:
            self.refuse_sessions += 1
        return xrpc_error(401, "InvalidToken", "Token has been revoked")

    def create_record(self, request: Request, _: list[str]) -> Any:
        if not self._authorised(request, self._access):
            return xrpc_error(401, "InvalidToken", "Bad token scope")
        body = request.json()
        if body.get("repo") not in (self.did, self.handle):
            return xrpc_error(400, "InvalidRequest", "Invalid repo")
        collection, record = body.get("collection"), body.get("record") or {}
        if collection != "app.bsky.feed.post" or record.get("$type") != collection:
            return xrpc_error(400, "InvalidRequest", "Invalid collection or $type")
        rkey = body.get("rkey") or f"3l{len(self.records):011d}"
        if collection == "app.bsky.feed.post" and not _TID.match(rkey):
            return xrpc_error(400, "InvalidRequest", f"Invalid record key for app.bsky.feed.post: {rkey}")
        if not isinstance(record.get("text"), str) or not record.get("createdAt"):
            return xrpc_error(400, "InvalidRequest", "Invalid app.bsky.feed.post record: "
                                                     'Record must have the property "text"')
        reply = record.get("reply")
        if reply and not all(isinstance(reply.get(k), dict) and reply[k].get("uri") and reply[k].get("cid")
                             for k in ("root", "parent")):
            return xrpc_error(400, "InvalidRequest", "Invalid app.bsky.feed.post record: reply needs root and "
                                                     "parent strong refs")
        uri = f"at://{self.did}/{collection}/{rkey}"

        def store() -> Response:
            with self.lock:
                if rkey in self.records:
                    # The reference PDS answers an existing key with a 500; others with a 400.
                    if self.existing_key_status == 500:
                        return xrpc_error(500, "InternalServerError", "Internal Server Error")
                    return xrpc_error(400, "InvalidRequest", f"Record already exists: {uri}")
                cid = _cid(json.dumps(record, sort_keys=True).encode())
                self.records[rkey] = {"uri": uri, "cid": cid, "value": record}
                images = ((record.get("embed") or {}).get("images")) or []
                self.stored.append(ServerPost(uri, record["text"], reply["parent"]["uri"] if reply else None,
                                              tuple(i.get("alt", "") for i in images)))
            return Response(200, {"uri": uri, "cid": cid, "commit": {"cid": _cid(uri.encode()),
                                                                    "rev": "3lfake" + rkey[-7:]},
                                  "validationStatus": "valid"}, self._limit_headers())

        with self.lock:
            if rkey in self.records:  # checked before any injected failure, as the PDS would
                return xrpc_error(400, "InvalidRequest", f"Record already exists: {uri}")
        return self.with_failures(request, store, self.errors())

    def get_record(self, request: Request, _: list[str]) -> Response:
        rkey = request.arg("rkey", "")
        with self.lock:
            found = self.records.get(rkey) if request.arg("repo") in (self.did, self.handle) else None
        if found is None:
            return xrpc_error(400, "RecordNotFound",
                              f"Could not locate record: at://{request.arg('repo')}/{request.arg('collection')}/{rkey}")
        return Response(200, found)

    def list_records(self, request: Request, _: list[str]) -> Response:
        limit = int(request.arg("limit", "50"))
        with self.lock:
            records = sorted(self.records.items(), reverse=True)[:limit]
        return Response(200, {"records": [r for _, r in records]})

    def upload_blob(self, request: Request, _: list[str]) -> Response:
        if not self._authorised(request, self._access):
            return xrpc_error(401, "InvalidToken", "Bad token scope")
        if len(request.body) > 1_000_000:
            return xrpc_error(400, "BlobTooLarge", "This file is too large. It is 1.2MB but the maximum size is 976.56KB.")
        cid = _cid(request.body, "bafkrei")
        with self.lock:
            self.blobs[cid] = request.body
        return Response(200, {"blob": {"$type": "blob", "ref": {"$link": cid},
                                       "mimeType": request.headers.get("Content-Type", "*/*"),
                                       "size": len(request.body)}})

    def get_profile(self, request: Request, _: list[str]) -> Response:
        if not self._authorised(request, self._access):
            return xrpc_error(401, "InvalidToken", "Bad token scope")
        if request.arg("actor") not in (self.did, self.handle):
            return xrpc_error(400, "InvalidRequest", "Profile not found")
        return Response(200, {"did": self.did, "handle": self.handle, "displayName": "Crieur",
                              "followersCount": 0, "followsCount": 0, "postsCount": len(self.records)})
