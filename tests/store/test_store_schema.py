"""Schema versions: a new store is created at the current version, older ones upgraded, newer ones refused."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text, update
from store_helpers import T0, Hourly, new_item

from bot.store import SCHEMA_VERSION, SchemaTooNew, StoreError, open_store, resolve_store_url
from bot.store import schema as schema_mod
from bot.store.engine import create_store_engine
from bot.store.schema import schema_version


def _version(url: str) -> int:
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            return conn.execute(text("SELECT version FROM crieur_schema")).scalar_one()
    finally:
        store.close()


def _set_version(url: str, version: int) -> None:
    store = open_store(url)
    with store.engine.begin() as conn:
        conn.execute(update(schema_version).values(version=version))
    store.close()


def test_a_new_store_has_the_current_version_and_reopening_keeps_everything(make_store, store_url) -> None:
    first = make_store()
    item = first.enqueue(new_item(), schedule=Hourly(), now=T0).item
    first.close()
    again = make_store()
    assert again.get_item(item.id) == item
    assert _version(store_url) == SCHEMA_VERSION
    with again.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM crieur_schema")).scalar_one() == 1
        tables = set(inspect(conn).get_table_names())
    assert {"items", "posts", "attempts", "accounts", "slot_cursors", "free_slots", "seen_entries",
            "source_states", "crieur_schema"} <= tables


def test_a_store_from_a_newer_crieur_is_refused_with_a_clear_message(store_url) -> None:
    _set_version(store_url, SCHEMA_VERSION + 1)
    with pytest.raises(SchemaTooNew) as exc:
        open_store(store_url)
    message = str(exc.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message and "newer Crieur" in message
    assert "upgrade Crieur" in message
    assert isinstance(exc.value, StoreError) and exc.value.exit_code == 1


def test_an_older_store_is_upgraded_step_by_step(store_url, monkeypatch) -> None:
    old = open_store(store_url)
    item = old.enqueue(new_item(), schedule=Hourly(), now=T0).item
    old.close()
    steps: list[int] = []

    def v1_to_v2(conn) -> None:
        steps.append(1)
        conn.execute(text("ALTER TABLE items ADD COLUMN note TEXT"))

    def v2_to_v3(conn) -> None:
        steps.append(2)
        conn.execute(text("UPDATE items SET note = 'upgraded'"))

    monkeypatch.setattr(schema_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 2)
    monkeypatch.setitem(schema_mod.MIGRATIONS, SCHEMA_VERSION, v1_to_v2)
    monkeypatch.setitem(schema_mod.MIGRATIONS, SCHEMA_VERSION + 1, v2_to_v3)
    upgraded = open_store(store_url)
    try:
        assert steps == [1, 2]
        assert upgraded.get_item(item.id).title == item.title
        with upgraded.engine.connect() as conn:
            assert conn.execute(text("SELECT note FROM items")).scalar_one() == "upgraded"
            assert conn.execute(text("SELECT version FROM crieur_schema")).scalar_one() == SCHEMA_VERSION + 2
    finally:
        upgraded.close()
    open_store(store_url).close()  # already current: no step runs again
    assert steps == [1, 2]


def test_a_failed_upgrade_changes_nothing(store_url, monkeypatch) -> None:
    open_store(store_url).close()

    def broken(conn) -> None:
        conn.execute(text("ALTER TABLE items ADD COLUMN note TEXT"))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(schema_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema_mod.MIGRATIONS, SCHEMA_VERSION, broken)
    with pytest.raises(StoreError, match=f"from schema version {SCHEMA_VERSION} to {SCHEMA_VERSION + 1} failed: disk on fire"):
        open_store(store_url)
    monkeypatch.undo()
    assert _version(store_url) == SCHEMA_VERSION
    store = open_store(store_url)
    with store.engine.connect() as conn:
        assert "note" not in {c["name"] for c in inspect(conn).get_columns("items")}
    store.close()


def test_a_version_without_upgrade_path_says_so(store_url) -> None:
    _set_version(store_url, 0)
    with pytest.raises(StoreError, match="cannot upgrade this store from schema version 0"):
        open_store(store_url)


def test_a_database_that_is_not_a_crieur_store_is_refused(store_url) -> None:
    engine = create_store_engine(resolve_store_url(store_url))  # makes the SQLite file's folder
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, other TEXT)"))
    engine.dispose()
    with pytest.raises(StoreError, match="not a Crieur store"):
        open_store(store_url)
