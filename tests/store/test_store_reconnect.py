"""A pooled PostgreSQL connection killed while idle is replaced before use (the idle-only pre-ping)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

import bot.store.engine as engine_mod
from bot.store import open_store, resolve_store_url
from bot.testing import postgres_schema


@pytest.mark.postgres
def test_an_idle_connection_killed_by_the_server_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    base = os.environ.get("CRIEUR_TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL tests need CRIEUR_TEST_DATABASE_URL")
    monkeypatch.setattr(engine_mod, "PING_IDLE_AFTER_S", 0.0)  # every checkout counts as idle
    with postgres_schema(base, "crieur_ping") as url:
        store = open_store(url)
        admin = create_engine(resolve_store_url(base))
        try:
            with store.engine.connect() as conn:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert store.count_by_state() == {}  # no error: the dead connection was swapped
        finally:
            store.close()
            admin.dispose()
