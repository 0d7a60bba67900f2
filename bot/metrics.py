"""Prometheus metrics and `/healthz` for `crieur run --metrics HOST:PORT` (prometheus_client).

Counters are fed by the daemon (run outcomes, rate-limit pauses, lateness) and by a thin timing
wrapper around each account's adapter (posts, failures, call latency); queue depth by state is
read from the store at scrape time. `/healthz` answers 200 while the scheduler loop runs and the
store answers a query, 503 (with the reason) otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("crieur.metrics")

# Lateness: seconds between an item's due time and the start of its publishing.
_LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, float("inf"))
_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))
# The adapter calls that reach the platform and are timed.
_TIMED_CALLS = ("publish", "upload_media", "find_existing")


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT`, `[::1]:PORT`) → (host, port); ValueError with a readable message."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--metrics: expected HOST:PORT such as 127.0.0.1:9464, got {value!r}")
    return (host.strip("[]") or "127.0.0.1"), int(port)


class Metrics:
    """The daemon's metrics (one registry per daemon, so tests can run several in one process)."""

    def __init__(self, store: Any = None) -> None:
        self.registry = CollectorRegistry()
        self.store = store
        r = self.registry
        self.posts_published = Counter("crieur_posts_published", "Posts the platforms accepted",
                                       ["platform", "account"], registry=r)
        self.posts_failed = Counter("crieur_posts_failed", "Posts a platform call failed for (by error class)",
                                    ["platform", "account", "error"], registry=r)
        self.attempts = Counter("crieur_attempts", "Publishing runs of an item, by outcome", ["outcome"], registry=r)
        self.rate_limit_pauses = Counter("crieur_rate_limit_pauses", "Accounts paused by a platform rate limit",
                                         ["platform", "account"], registry=r)
        self.lateness = Histogram("crieur_lateness_seconds", "Seconds between an item's due time and its publishing",
                                  buckets=_LATENESS_BUCKETS, registry=r)
        self.call_latency = Histogram("crieur_platform_call_seconds", "Platform call latency",
                                      ["platform", "call"], buckets=_CALL_BUCKETS, registry=r)
        self.last_publish = Gauge("crieur_last_publish_timestamp_seconds",
                                  "Unix time of the last post a platform accepted", ["account"], registry=r)
        if store is not None:
            r.register(_QueueCollector(store))

    def observe_result(self, item: Any, result: Any, rate_limited: bool) -> None:
        self.attempts.labels(result.outcome).inc()
        if rate_limited:
            self.rate_limit_pauses.labels(item.platform, item.account).inc()

    def wrap(self, adapter: Any, account: Any) -> Any:
        return _TimedAdapter(adapter, self, account.platform, account.name)


class _QueueCollector:
    """`crieur_queue_items{state}`: read from the store when scraped (one GROUP BY)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("crieur_queue_items", "Items in the queue by state", labels=["state"])
        try:
            counts = self.store.count_by_state()
        except Exception as error:  # a scrape must not fail because the store hiccups
            log.warning("metrics: queue depth not read: %s", error)
            counts = {}
        for state in ("scheduled", "publishing", "published", "failed", "needs_review", "cancelled"):
            counts.setdefault(state, 0)
        for state, count in sorted(counts.items()):
            family.add_metric([state], count)
        yield family

    def describe(self) -> list[Any]:
        return []  # collected at scrape time only: do not read the store at registration


class _TimedAdapter:
    """An adapter seen through metrics: platform calls timed, accepted and failed posts counted."""

    def __init__(self, adapter: Any, metrics: Metrics, platform: str, account: str) -> None:
        self._adapter = adapter
        self._metrics = metrics
        self._platform = platform
        self._account = account

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._adapter, name)
        if name not in _TIMED_CALLS or not callable(attr):
            return attr
        return self._timed(name, attr)

    def _timed(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        metrics = self._metrics

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = call(*args, **kwargs)
            except Exception as error:
                if name == "publish":
                    metrics.posts_failed.labels(self._platform, self._account, type(error).__name__).inc()
                raise
            finally:
                metrics.call_latency.labels(self._platform, name).observe(time.perf_counter() - started)
            if name == "publish":
                metrics.posts_published.labels(self._platform, self._account).inc()
                metrics.last_publish.labels(self._account).set(time.time())
            return result

        return timed


class MetricsServer:
    """Serves `/metrics` (Prometheus text format) and `/healthz` on HOST:PORT in a daemon thread."""

    def __init__(self, metrics: Metrics, host: str, port: int, health: Callable[[], tuple[bool, str]]) -> None:
        from wsgiref.simple_server import make_server

        from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

        metrics_app = make_wsgi_app(metrics.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            if environ.get("PATH_INFO") == "/healthz":
                ok, why = health()
                body = (why + "\n").encode()
                start_response("200 OK" if ok else "503 Service Unavailable",
                               [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
                return [body]
            return metrics_app(environ, start_response)

        try:
            self._server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_SilentHandler)
        except OSError as error:
            from bot.errors import BadInput

            raise BadInput(f"--metrics {host}:{port}: cannot listen there: {error.strerror}") from None
        self.host, self.port = host, self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
