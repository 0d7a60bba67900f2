"""Fixtures for the adapter tests: fake servers, sessions routed to them, and ready-made harnesses."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.testing import Harness

# The fakes live in tests/fakes and are imported as `tests.fakes.…`: make the repository root
# importable whatever directory pytest was started from.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from bot.adapters.base import rebased_session
from bot.adapters.x import X_HOSTS
from tests.fakes.fake_bluesky import FakeBluesky
from tests.fakes.fake_mastodon import FakeMastodon
from tests.fakes.fake_x import FakeX

# Seconds per HTTP call: the fakes answer in milliseconds, a "slow" one only after the test. Generous,
# so that a busy 2-core machine never turns an ordinary call into a timeout.
TIMEOUT = 5.0


def x_session(server: FakeX) -> requests.Session:
    """A session that sends X's hard-coded hosts to the fake: tweepy's own request code runs."""
    return rebased_session(server.url, X_HOSTS)


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


@pytest.fixture
def fake_bluesky() -> Iterator[FakeBluesky]:
    with FakeBluesky() as server:
        yield server


def make_x(server: FakeX, **settings: object) -> Harness:
    from bot.adapters.x import XAdapter

    adapter = XAdapter.from_account(dict(settings), dict(server.credentials), session=x_session(server),
                                    timeout=TIMEOUT)
    return Harness(adapter, server, idempotent=False)


def make_mastodon(server: FakeMastodon, **settings: object) -> Harness:
    from bot.adapters.mastodon import MastodonAdapter

    adapter = MastodonAdapter.from_account({"instance": server.url, "media_poll_interval": 0.01, **settings},
                                           {"access_token": server.access_token}, timeout=TIMEOUT)
    # What the adapter makes of the server's instance info (GoToSocial ignores the key).
    return Harness(adapter, server, idempotent=adapter.honours_idempotency_key)


def make_bluesky(server: FakeBluesky, state_dir: Path, **settings: object) -> Harness:
    from bot.adapters.bluesky import BlueskyAdapter

    adapter = BlueskyAdapter.from_account({"service": server.url, **settings},
                                          {"handle": server.handle, "app_password": server.app_password},
                                          timeout=TIMEOUT, state_dir=state_dir)
    return Harness(adapter, server)
