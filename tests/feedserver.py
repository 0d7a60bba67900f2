"""A tiny feed server on 127.0.0.1 for source tests: scripted responses, recorded requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """What the server answers on one path.

    With `etag` set, a request whose If-None-Match equals it gets a 304.
    """

    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0  # seconds to wait before answering (timeout tests)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


class FeedServer:
    """`with FeedServer() as server:` serves `server.routes[path]` at `server.url(path)`.

    Unknown paths get a 404. `server.requests` lists every request received, headers lower-cased.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.requests.append(SeenRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = outer.routes.get(self.path)
                if route is None:
                    self._answer(404, b"not found", "text/plain")
                    return
                if route.delay:
                    # Wake early when the server stops, so shutdown does not wait for the delay.
                    outer._stop.wait(route.delay)
                if route.etag is not None and self.headers.get("If-None-Match") == route.etag:
                    self._answer(304, b"", None, {"ETag": route.etag})
                    return
                extra = dict(route.headers)
                if route.etag is not None:
                    extra["ETag"] = route.etag
                if route.last_modified is not None:
                    extra["Last-Modified"] = route.last_modified
                self._answer(route.status, route.body, route.content_type, extra)

            def _answer(self, status: int, body: bytes, content_type: str | None,
                        extra: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    if content_type:
                        self.send_header("Content-Type", content_type)
                    for name, value in (extra or {}).items():
                        self.send_header(name, value)
                    if status != 304:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if status != 304:
                        self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout tests); nothing to tell it

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/feed.xml") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def rss(items: list[dict[str, str]], *, language: str | None = "fr") -> bytes:
    """An RSS 2.0 document; each item dict may have guid, link, title, description, pubDate, category, content."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>',
             "<title>Test feed</title><link>https://news.example/</link><description>t</description>"]
    if language:
        parts.append(f"<language>{language}</language>")
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "pubDate", "category"):
            if key in item:
                parts.append(f"<{key}>{item[key]}</{key}>")
        if "description" in item:
            parts.append(f"<description><![CDATA[{item['description']}]]></description>")
        if "content" in item:
            parts.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def atom(entries: list[dict[str, str]], *, lang: str | None = "en") -> bytes:
    """An Atom 1.0 document; each entry dict may have id, link, title, summary, content (HTML), updated."""
    xml_lang = f' xml:lang="{lang}"' if lang else ""
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<feed xmlns="http://www.w3.org/2005/Atom"{xml_lang}>',
             "<title>Atom test</title><id>urn:test:feed</id><updated>2026-01-01T00:00:00Z</updated>"]
    for entry in entries:
        parts.append("<entry>")
        if "id" in entry:
            parts.append(f"<id>{entry['id']}</id>")
        if "title" in entry:
            parts.append(f"<title>{entry['title']}</title>")
        if "link" in entry:
            parts.append(f'<link rel="alternate" href="{entry["link"]}"/>')
        parts.append(f"<updated>{entry.get('updated', '2026-01-01T00:00:00Z')}</updated>")
        if "summary" in entry:
            parts.append(f"<summary>{entry['summary']}</summary>")
        if "content" in entry:
            escaped = entry["content"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(f'<content type="html">{escaped}</content>')
        for term in entry.get("categories", "").split(",") if entry.get("categories") else ():
            parts.append(f'<category term="{term}"/>')
        parts.append("</entry>")
    parts.append("</feed>")
    return "".join(parts).encode("utf-8")
