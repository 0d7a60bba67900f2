"""Posts per second through each adapter to its fake server on loopback, bare and through Publisher + store.

Usage: python benchmarks/publish.py [--threads 20] [--posts 10] [--pg URL]
Run from the repository root (the fake servers live in tests/fakes). For each platform (x, mastodon,
bluesky, dryrun) it prints: the adapter alone (`publish` in a loop, replies chained), then whole
threads claimed from the store and published by `bot.publisher.Publisher` with spacing 0 — the
same path as `crieur run` — on SQLite (a temporary file) and PostgreSQL when --pg or
CRIEUR_TEST_DATABASE_URL gives a server (a scratch schema, dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.fakes is imported from the repository root
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bot.adapters import OutgoingPost, RemoteRef  # noqa: E402
from bot.adapters.base import rebased_session  # noqa: E402
from bot.adapters.x import X_HOSTS  # noqa: E402
from bot.article import parse_article  # noqa: E402
from bot.campaign import load_campaign  # noqa: E402
from bot.enqueue import enqueue_articles  # noqa: E402
from bot.publisher import AdapterPool, Publisher  # noqa: E402
from bot.sources.base import SourceArticle  # noqa: E402
from bot.store import open_store  # noqa: E402
from bot.testing import postgres_schema
from tests.fakes.fake_bluesky import FakeBluesky  # noqa: E402
from tests.fakes.fake_mastodon import FakeMastodon  # noqa: E402
from tests.fakes.fake_x import FakeX  # noqa: E402

PLATFORMS = ("x", "mastodon", "bluesky", "dryrun")
HOLDER = "bench:1"
LEASE = timedelta(seconds=60)
_WORDS = ("the desk reports that river levels rose again overnight while volunteers filled sandbags near "
          "the old bridge and officials urged residents of the valley to stay alert for new warnings").split()


def _x_session(server: FakeX) -> requests.Session:
    """X's hard-coded hosts sent to the fake server (tweepy's own request code still runs)."""
    return rebased_session(server.url, X_HOSTS)


def _article(seed: int, posts: int) -> str:
    """`posts` paragraphs of ~250 characters: one post each at limit 262, every text different."""
    rng = random.Random(seed)
    paragraphs = []
    for n in range(posts):
        sentence = f"Bench {seed} part {n + 1}: " + " ".join(rng.choice(_WORDS) for _ in range(60))
        paragraphs.append(sentence[:250].rsplit(" ", 1)[0] + ".")
    return "\n\n".join(paragraphs) + "\n"


@contextmanager
def _servers() -> Iterator[dict[str, Any]]:
    with FakeX() as x, FakeMastodon() as mastodon, FakeBluesky() as bluesky:
        yield {"x": x, "mastodon": mastodon, "bluesky": bluesky}


def _campaign(directory: Path, servers: dict[str, Any]) -> Any:
    x = servers["x"]
    path = directory / "bench.yaml"
    path.write_text(f"""name: bench
timezone: UTC
accounts:
  bench-x:
    platform: x
    limit: 262
    consumer_key: ${{B_X_CK}}
    consumer_secret: ${{B_X_CS}}
    access_token: ${{B_X_AT}}
    access_token_secret: ${{B_X_ATS}}
  bench-mastodon:
    platform: mastodon
    limit: 262
    instance: {servers['mastodon'].url}
    access_token: ${{B_M_TOKEN}}
  bench-bluesky:
    platform: bluesky
    limit: 262
    handle: {servers['bluesky'].handle}
    service: {servers['bluesky'].url}
    app_password: ${{B_B_PASSWORD}}
  bench-dryrun:
    platform: dryrun
    as: x
    limit: 262
    output: dryrun.jsonl
schedule:
  slots: ["0 * * * *"]
  spacing: 0s
""", encoding="utf-8")
    env = {"B_X_CK": x.credentials["consumer_key"], "B_X_CS": x.credentials["consumer_secret"],
           "B_X_AT": x.credentials["access_token"], "B_X_ATS": x.credentials["access_token_secret"],
           "B_M_TOKEN": servers["mastodon"].access_token, "B_B_PASSWORD": servers["bluesky"].app_password}
    return load_campaign(path), env


def _pool(servers: dict[str, Any], env: dict[str, str], state_dir: Path) -> AdapterPool:
    return AdapterPool(timeout=5.0, state_dir=state_dir, env=env,
                       session_factory=lambda a: _x_session(servers["x"]) if a.platform == "x" else None)


def bare_adapter(platform: str, campaign: Any, pool: AdapterPool, count: int) -> float:
    """Posts/s of `adapter.publish` alone, each post replying to the previous one."""
    adapter = pool.get(campaign.accounts[f"bench-{platform}"])
    texts = _article(10_000 + count, count).split("\n\n")
    reply_to: RemoteRef | None = None
    started = time.perf_counter()
    for n, body in enumerate(texts):
        reply_to = adapter.publish(OutgoingPost(text=body.strip(), idempotency_key=f"bare-{platform}-{n}"), reply_to)
    return count / (time.perf_counter() - started)


def through_publisher(platform: str, campaign: Any, pool: AdapterPool, store_url: str, threads: int,
                      posts: int, tmp: Path) -> tuple[float, float]:
    """(posts/s, ms of store work per post) for `threads` threads of `posts` posts through the Publisher."""
    store = open_store(store_url)
    try:
        sources = []
        for n in range(threads):
            seed = hash((platform, n)) & 0xFFFFFF
            sources.append(SourceArticle(f"{tmp}/bench-{platform}-{n}.txt", parse_article(_article(seed, posts))))
        now = datetime.now(timezone.utc)
        reports = enqueue_articles(campaign, store, sources, accounts=[f"bench-{platform}"], at=now)
        assert all(r.action == "queued" and r.posts == posts for r in reports), reports[:1]
        publisher = Publisher(store, {campaign.name: campaign}, pool, holder=HOLDER, lease=LEASE)
        adapter = pool.get(campaign.accounts[f"bench-{platform}"])
        network = _timed(adapter)
        started = time.perf_counter()
        done = 0
        while (item := store.claim_due(datetime.now(timezone.utc), HOLDER, LEASE,
                                       campaigns=[campaign.name])) is not None:
            result = publisher.publish(item)
            assert result.outcome == "published", result
            done += len(item.posts)
        elapsed = time.perf_counter() - started
        network.restore()
        assert done == threads * posts
        return done / elapsed, 1000 * (elapsed - network.seconds) / done
    finally:
        store.close()


class _timed:
    """Times the adapter's `publish` calls (the platform's share), to tell the store's share apart."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter
        self.seconds = 0.0
        self._publish: Callable[..., Any] = adapter.publish

        def publish(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return self._publish(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        adapter.publish = publish

    def restore(self) -> None:
        del self.adapter.publish


def _pg_schema(base: str):  # noqa: ANN202 - see bot.testing.postgres_schema
    return postgres_schema(base, "crieur_bench_publish")

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=20, help="threads per platform and store (default 20)")
    parser.add_argument("--posts", type=int, default=10, help="posts per thread (default 10)")
    parser.add_argument("--pg", default=os.environ.get("CRIEUR_TEST_DATABASE_URL"), help="PostgreSQL URL")
    args = parser.parse_args()

    total = args.threads * args.posts
    print(f"{args.threads} threads × {args.posts} posts per platform, spacing 0, fake servers on 127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="crieur-bench-") as tmp_name, _servers() as servers:
        tmp = Path(tmp_name)
        campaign, env = _campaign(tmp, servers)
        stores = [("SQLite", str(tmp / "queue.db"))]
        pg = _pg_schema(args.pg) if args.pg else None
        pg_url = pg.__enter__() if pg else None
        if pg_url:
            stores.append(("PostgreSQL", pg_url))
        try:
            print(f"{'platform':<10} {'adapter alone':>16} " + " ".join(
                f"{name + ' (store ms/post)':>34}" for name, _ in stores))
            for platform in PLATFORMS:
                pool = _pool(servers, env, tmp / "state")
                try:
                    bare = bare_adapter(platform, campaign, pool, total)
                    cells = []
                    for _name, url in stores:
                        rate, store_ms = through_publisher(platform, campaign, pool, url, args.threads,
                                                           args.posts, tmp)
                        cells.append(f"{rate:>14.0f} posts/s ({store_ms:5.2f} ms)")
                finally:
                    pool.close()
                print(f"{platform:<10} {bare:>8.0f} posts/s " + " ".join(f"{c:>34}" for c in cells))
        finally:
            if pg:
                pg.__exit__(None, None, None)
        if not pg_url:
            print("PostgreSQL: skipped (give --pg URL or set CRIEUR_TEST_DATABASE_URL)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
