"""The adapter contract suite (bot.testing) run over every built-in adapter against its fake server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.dryrun import DryRunAdapter
from bot.testing import AdapterContract, Harness, ServerPost
from tests.adapters.conftest import make_bluesky, make_mastodon, make_x
from tests.fakes.fake_bluesky import FakeBluesky
from tests.fakes.fake_mastodon import FLAVOURS as MASTODON_FLAVOURS
from tests.fakes.fake_mastodon import FakeMastodon
from tests.fakes.fake_x import FakeX


class DryRunInspector:
    """The dry run's 'server' is its JSON-lines file."""

    failures: frozenset[str] = frozenset()
    rate_limit_reset = None
    secrets: list[str] = []

    def __init__(self, adapter: DryRunAdapter) -> None:
        self.adapter = adapter

    def posts(self) -> list[ServerPost]:
        return [ServerPost(e["id"], e["text"], e["reply_to"]) for e in self.adapter.entries()]

    def fail_next(self, kind: str, count: int = 1) -> None:
        raise ValueError("the dry run cannot fail")


@pytest.fixture(params=["x", *(f"mastodon-{f}" if f != "mastodon" else f for f in MASTODON_FLAVOURS),
                        "bluesky", "dryrun"])
def adapter_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    name = request.param
    if name == "dryrun":
        adapter = DryRunAdapter.from_account({"path": str(tmp_path / "dryrun.jsonl")}, {})
        yield Harness(adapter, DryRunInspector(adapter), media=False)
        return
    if name.startswith("mastodon"):
        # Every Mastodon-API server the fake speaks: Mastodon, Hollo, GoToSocial, Akkoma.
        server = FakeMastodon(flavour=name.partition("-")[2] or "mastodon").start()
    else:
        server = {"x": FakeX, "bluesky": FakeBluesky}[name]().start()
    try:
        if name == "x":
            yield make_x(server)
        elif name.startswith("mastodon"):
            yield make_mastodon(server)
        else:
            yield make_bluesky(server, tmp_path / "state")
    finally:
        server.stop()


class TestBuiltinAdapters(AdapterContract):
    """Every check of the shipped contract, for x, mastodon (as Mastodon, Hollo, GoToSocial and
    Akkoma), bluesky and dryrun."""
