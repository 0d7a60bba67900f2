"""Fixtures for the publisher tests: a real store (SQLite, and PostgreSQL when configured), the fake
platform servers on loopback, a campaign whose accounts point at them, and a `World` tying them up."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # the fakes are imported as tests.fakes.…
    sys.path.insert(0, _ROOT)

from bot.article import load_article  # noqa: E402
from bot.campaign import Campaign, load_campaign  # noqa: E402
from bot.enqueue import enqueue_articles  # noqa: E402
from bot.publisher import AdapterPool, Publisher, PublishResult  # noqa: E402
from bot.sources.base import SourceArticle  # noqa: E402
from bot.store import Item, Store, open_store  # noqa: E402
from bot.testing import (
    postgres_schema,
    tiny_png,  # noqa: E402
)
from tests.adapters.conftest import x_session  # noqa: E402
from tests.fakes.base import Response  # noqa: E402
from tests.fakes.fake_bluesky import FakeBluesky  # noqa: E402
from tests.fakes.fake_mastodon import FakeMastodon  # noqa: E402
from tests.fakes.fake_x import FakeX  # noqa: E402

PG_ENV = "CRIEUR_TEST_DATABASE_URL"
TIMEOUT = 5.0  # seconds per HTTP call: the fakes answer in milliseconds (generous for a busy machine)
HOLDER = "test-node:1"
LEASE = timedelta(seconds=30)
ACCOUNTS = {"x": "desk-x", "mastodon": "desk-mastodon", "bluesky": "desk-bluesky", "dryrun": "desk-dryrun"}

_WORDS = ("the desk reports that river levels rose again overnight while volunteers filled sandbags near "
          "the old bridge and officials urged residents of the valley to stay alert for new warnings").split()


class FlakyX(FakeX):
    """FakeX whose recent-tweets lookup (what `find_existing` reads) can be made to fail."""

    fail_lookups = False

    def user_tweets(self, request, groups):  # type: ignore[no-untyped-def]
        if self.fail_lookups:
            return Response(503, {"title": "Service Unavailable", "detail": "Service Unavailable",
                                  "type": "about:blank", "status": 503}, content_type="application/problem+json")
        return super().user_tweets(request, groups)


class FlakyMastodon(FakeMastodon):
    """FakeMastodon whose account-statuses lookup can be made to fail."""

    fail_lookups = False

    def account_statuses(self, request, groups):  # type: ignore[no-untyped-def]
        if self.fail_lookups:
            return Response(503, "<html><body><h1>503 Service Unavailable</h1></body></html>",
                            content_type="text/html")
        return super().account_statuses(request, groups)


def fail_at(server: Any, n: int, kind: str, count: int = 1) -> None:
    """Make the `n`-th post-creating request from now on (1 = the next) and the `count - 1` after it
    fail as `kind`: a failure in the middle of a thread, injected on the server side."""
    original = server.with_failures
    seen = 0

    def with_failures(request, store, errors):  # type: ignore[no-untyped-def]
        nonlocal seen
        seen += 1
        if seen == n:
            server.fail_next(kind, count)
        return original(request, store, errors)

    server.with_failures = with_failures


def article_text(seed: int, paragraphs: int = 10, media: str | None = None) -> str:
    """An article that formats to exactly `paragraphs` posts on every test account (limit 262):
    one sentence of about 250 characters per paragraph, all different (X refuses repeats)."""
    import random

    rng = random.Random(seed)
    body = []
    for n in range(paragraphs):
        sentence = f"Article {seed} part {n + 1}: " + " ".join(rng.choice(_WORDS) for _ in range(60))
        body.append(sentence[:250].rsplit(" ", 1)[0] + ".")
    front = ""
    if media:
        front = f"---\ntitle: Article {seed}\nmedia:\n  - path: {media}\n    alt: Chart of the river level, {seed}\n---\n"
    return front + "\n\n".join(body) + "\n"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty store: a fresh SQLite file, or a fresh PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        (tmp_path / "queue").mkdir(exist_ok=True)
        yield str(tmp_path / "queue" / "crieur.db")
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    with postgres_schema(base, "crieur_pub") as url:
        yield url

@dataclass
class World:
    """A store, a campaign on the fake servers, an adapter pool and a publisher, as the daemon has them."""

    store: Store
    store_url: str
    campaign: Campaign
    pool: AdapterPool
    publisher: Publisher
    servers: dict[str, Any]
    env: dict[str, str]
    tmp: Path
    dryrun_path: Path
    _seed: int = field(default=0)

    def enqueue(self, platform: str, *, paragraphs: int = 10, media: bool = False) -> int:
        """Enqueue a fresh article for the platform's account, due now; return the item id."""
        self._seed += 1
        media_name = None
        if media:
            media_name = f"chart-{self._seed}.png"
            tiny_png(self.tmp / media_name)
        path = self.tmp / f"article-{self._seed}.txt"
        path.write_text(article_text(self._seed, paragraphs, media_name), encoding="utf-8")
        source = SourceArticle(str(path), load_article(path))
        [report] = enqueue_articles(self.campaign, self.store, [source], accounts=[ACCOUNTS[platform]],
                                    at=datetime.now(timezone.utc))
        assert report.action == "queued", report.message
        assert report.posts == paragraphs
        assert report.item_id is not None
        return report.item_id

    def claim(self, now: datetime | None = None) -> Item | None:
        return self.store.claim_due(now or datetime.now(timezone.utc), HOLDER, LEASE)

    def run(self, now: datetime | None = None, *, expect: int | None = None) -> PublishResult:
        """Claim the next due item (at `now`) and publish it."""
        item = self.claim(now)
        assert item is not None, "nothing due"
        if expect is not None:
            assert item.id == expect
        return self.publisher.publish(item)

    def item(self, item_id: int) -> Item:
        return self.store.get_item(item_id)

    def secrets(self) -> list[str]:
        return [s for server in self.servers.values() for s in server.secrets]


def write_campaign(path: Path, servers: dict[str, Any], *, spacing: str = "0s", max_attempts: int = 3,
                   drop: tuple[str, ...] = (), name: str = "desk") -> Path:
    accounts = {
        "desk-x": ("    platform: x\n    limit: 262\n    consumer_key: ${T_X_CK}\n    consumer_secret: ${T_X_CS}\n"
                   "    access_token: ${T_X_AT}\n    access_token_secret: ${T_X_ATS}\n"),
        "desk-mastodon": (f"    platform: mastodon\n    limit: 262\n    instance: {servers['mastodon'].url}\n"
                          "    access_token: ${T_M_TOKEN}\n    visibility: unlisted\n"),
        "desk-bluesky": (f"    platform: bluesky\n    limit: 262\n    handle: {servers['bluesky'].handle}\n"
                         f"    service: {servers['bluesky'].url}\n    app_password: ${{T_B_PASSWORD}}\n"),
        "desk-dryrun": "    platform: dryrun\n    as: x\n    limit: 262\n    output: dryrun-out.jsonl\n",
    }
    lines = [f"name: {name}", "timezone: Europe/Paris", "lang: en", "accounts:"]
    for account, body in accounts.items():
        if account not in drop:
            lines.append(f"  {account}:\n{body.rstrip()}")
    lines += ["schedule:", '  slots: ["0 * * * *"]', f"  spacing: {spacing}",
              f"retry: {{max_attempts: {max_attempts}, initial: 30s, maximum: 1h}}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def mastodon_flavour() -> str:
    """The Mastodon-API server the desk's Mastodon account is on; a test parametrizes it to "hollo"."""
    return "mastodon"


@pytest.fixture
def servers(mastodon_flavour: str) -> Iterator[dict[str, Any]]:
    with FlakyX() as x, FlakyMastodon(flavour=mastodon_flavour) as mastodon, FakeBluesky() as bluesky:
        yield {"x": x, "mastodon": mastodon, "bluesky": bluesky}


@pytest.fixture
def make_world(store_url: str, servers: dict[str, Any], tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Build a World: `make_world(spacing="0s", max_attempts=3, env=None, dry_run=False)`."""
    stores: list[Store] = []
    pools: list[AdapterPool] = []

    def make(*, spacing: str = "0s", max_attempts: int = 3, env: dict[str, str] | None = None,
             dry_run: bool = False) -> World:
        x = servers["x"]
        env = env or {
            "T_X_CK": x.credentials["consumer_key"], "T_X_CS": x.credentials["consumer_secret"],
            "T_X_AT": x.credentials["access_token"], "T_X_ATS": x.credentials["access_token_secret"],
            "T_M_TOKEN": servers["mastodon"].access_token, "T_B_PASSWORD": servers["bluesky"].app_password,
        }
        campaign = load_campaign(write_campaign(tmp_path / "desk.yaml", servers, spacing=spacing,
                                                max_attempts=max_attempts))
        store = open_store(store_url)
        stores.append(store)
        dryrun_path = tmp_path / "dry-run.jsonl"
        pool = AdapterPool(
            dry_run=dry_run, dryrun_path=dryrun_path if dry_run else None, timeout=TIMEOUT,
            state_dir=tmp_path / "state", env=env,
            session_factory=lambda account: x_session(x) if account.platform == "x" else None,
        )
        pools.append(pool)
        publisher = Publisher(store, {campaign.name: campaign}, pool, holder=HOLDER, lease=LEASE)
        return World(store, store_url, campaign, pool, publisher, servers, env, tmp_path,
                     dryrun_path if dry_run else tmp_path / "dryrun-out.jsonl")

    yield make
    for pool in pools:
        pool.close()
    for store in stores:
        store.close()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()
