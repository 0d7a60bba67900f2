"""FakeServer: a threaded HTTP server on 127.0.0.1 with failure injection, base of the platform fakes."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from bot.testing import FAILURES, ServerPost

DROP = object()  # a handler's answer meaning: close the connection without a response


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


Route = Callable[[Request, "list[str]"], "Response | object"]


class FakeServer:
    """Serves `routes` (method, regex) on 127.0.0.1:<free port> in a background thread.

    `fail_next(kind)` makes the next post-creating request fail as `kind` (one of
    `bot.testing.FAILURES`); `posts()` is the server-side truth the tests check.
    """

    failures: frozenset[str] = frozenset()
    # A "slow" answer waits this long, or until the server stops: far past any client timeout the
    # tests use, so a timeout test never depends on how fast a busy machine runs.
    slow_seconds = 60.0

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self.lock = threading.RLock()
        self._pending: list[str] = []
        self.stored: list[ServerPost] = []
        self.requests: list[tuple[str, str]] = []
        self.rate_limit_reset: datetime | None = None
        self.secrets: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    # The client died mid-request (SIGKILL in the chaos tests): a real server
                    # never acts on a truncated body, so neither does the fake.
                    self.close_connection = True
                    return
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query), self.headers, body)
                answer = fake.dispatch(request)
                if answer is DROP:
                    self.close_connection = True
                    return
                assert isinstance(answer, Response)
                if isinstance(answer.body, (bytes, str)):
                    payload = answer.body.encode() if isinstance(answer.body, str) else answer.body
                else:
                    payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    if payload:
                        self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (timeout): expected

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # let a "slow" answer go, so that closing does not wait for it
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the inspector side (bot.testing.FakeServerInspector) -----------------------------------

    def posts(self) -> list[ServerPost]:
        with self.lock:
            return list(self.stored)

    def fail_next(self, kind: str, count: int = 1) -> None:
        if kind not in self.failures:
            raise ValueError(f"{type(self).__name__} cannot inject {kind!r}")
        with self.lock:
            self._pending.extend([kind] * count)

    # -- for subclasses -----------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Route]]:
        raise NotImplementedError

    def dispatch(self, request: Request) -> Response | object:
        import re

        with self.lock:
            self.requests.append((request.method, request.path))
        for method, pattern, route in self.routes():
            match = re.fullmatch(pattern, request.path)
            if method == request.method and match:
                return route(request, list(match.groups()))
        return self.not_found(request)

    def not_found(self, request: Request) -> Response:
        return Response(404, {"error": "Not found"})

    def take_failure(self) -> str | None:
        with self.lock:
            return self._pending.pop(0) if self._pending else None

    def with_failures(self, request: Request, store: Callable[[], Response],
                      errors: dict[str, Callable[[], Response]]) -> Response | object:
        """Run a post-creating `store()` under the next injected failure, if any."""
        kind = self.take_failure()
        if kind is None:
            return store()
        if kind == "slow":
            answer = store()  # the work is done, the answer comes after the client's timeout
            self._stopping.wait(self.slow_seconds)
            return answer
        if kind == "drop_after_store":
            store()
            return DROP
        if kind == "rate_limit":
            self.rate_limit_reset = (datetime.now(timezone.utc) + timedelta(seconds=120)).replace(microsecond=0)
        return errors[kind]()


def assert_failures_known(kinds: frozenset[str]) -> None:
    unknown = kinds - set(FAILURES)
    assert not unknown, unknown
