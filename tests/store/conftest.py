"""The `store` fixtures: every store test runs on SQLite and, when CRIEUR_TEST_DATABASE_URL is set, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.store import Store, open_store
from bot.testing import postgres_schema

PG_ENV = "CRIEUR_TEST_DATABASE_URL"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty store: a fresh SQLite file, or a fresh PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        yield str(tmp_path / "queue" / "crieur.db")
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL store tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    with postgres_schema(base, "crieur_test") as url:
        yield url

@pytest.fixture
def make_store(store_url: str) -> Iterator[Callable[..., Store]]:
    """Open (possibly several) Store objects on the test's database; all closed at the end."""
    opened: list[Store] = []

    def make(**kwargs: object) -> Store:
        store = open_store(store_url, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    """An open, empty store."""
    return make_store()
