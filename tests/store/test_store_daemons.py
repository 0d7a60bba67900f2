"""Daemon heartbeats in the store (for `crieur status`), and the 1 -> 2 upgrade that adds them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect, text, update
from store_helpers import T0

from bot.store.daemons import ALIVE_WITHIN
from bot.store.schema import SCHEMA_VERSION, schema_version


def test_started_beating_stopped(store) -> None:
    store.daemon_started("node-a:1:x", "node-a", 1, {"dry_run": True}, now=T0)
    store.daemon_started("node-b:2:y", "node-b", 2, now=T0 + timedelta(seconds=1))
    [b, a] = store.daemons(now=T0 + timedelta(seconds=5))
    assert (a.node, a.pid, a.alive, a.info) == ("node-a", 1, True, {"dry_run": True})
    assert b.started_at == T0 + timedelta(seconds=1)
    later = T0 + ALIVE_WITHIN + timedelta(seconds=2)
    store.daemon_heartbeat("node-b:2:y", now=later - timedelta(seconds=1))
    by_node = {d.node: d for d in store.daemons(now=later)}
    assert not by_node["node-a"].alive  # stopped beating: taken for dead
    assert by_node["node-b"].alive and by_node["node-b"].heartbeat_at == later - timedelta(seconds=1)
    store.daemon_stopped("node-b:2:y", now=later)
    stopped = {d.node: d for d in store.daemons(now=later)}["node-b"]
    assert not stopped.alive and stopped.stopped_at == later


def test_stopped_daemons_are_forgotten_after_a_week(store) -> None:
    store.daemon_started("old:1:x", "old", 1, now=T0)
    store.daemon_stopped("old:1:x", now=T0)
    store.daemon_started("new:2:y", "new", 2, now=T0 + timedelta(days=8))
    assert [d.node for d in store.daemons(now=T0 + timedelta(days=8))] == ["new"]


def test_a_version_1_store_gets_the_daemons_table(make_store) -> None:
    store = make_store()
    with store.engine.begin() as conn:
        # A true version-1 store: no daemons table, no item version column (added in 3), no
        # posts.sent_at (added in 4).
        conn.execute(text("DROP TABLE daemons"))
        conn.execute(text("ALTER TABLE items DROP COLUMN version"))
        conn.execute(text("ALTER TABLE posts DROP COLUMN sent_at"))
        conn.execute(update(schema_version).values(version=1))
    store.close()
    again = make_store()
    with again.engine.connect() as conn:
        assert "daemons" in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT version FROM crieur_schema")).scalar_one() == SCHEMA_VERSION
    again.daemon_started("n:1:z", "n", 1, now=T0)
    assert again.daemons(now=T0)[0].alive
