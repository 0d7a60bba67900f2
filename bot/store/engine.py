"""Where the store lives: resolving `--db`/`CRIEUR_DB`/defaults to a URL, and creating its engine."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.store.model import StoreError

# Execution option that marks a connection whose transaction will write: on SQLite it then
# starts with BEGIN IMMEDIATE, so the write lock is taken up front instead of on the first
# write, where a concurrent writer would make the transaction fail with "database is locked".
WRITE_OPTION = "crieur_write"
# Execution option for the few writes that must survive a power cut, not only a crash: the
# record of a post that went out (losing it would post it twice). On SQLite those commits sync
# the WAL (synchronous=FULL); the others use synchronous=NORMAL, which in WAL mode loses nothing
# when the process dies and keeps an enqueue well under 5 ms. (On PostgreSQL every commit is
# as durable as the server is configured to make it.)
DURABLE_OPTION = "crieur_durable"

# How long a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30.0


def display_url(url: str) -> str:
    """The URL with any password masked, fit to print in messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@", 1)[-1] if "@" in url else url


def create_store_engine(url: str) -> Engine:
    """An engine for `url` (already resolved), tuned for the store's transactions.

    SQLite: the parent directory is created; every connection gets WAL, a busy timeout and
    foreign keys; transactions begin DEFERRED for reads and IMMEDIATE for writes, and commit
    with synchronous=FULL when marked durable (DURABLE_OPTION), NORMAL otherwise.
    PostgreSQL: psycopg 3, sessions in UTC.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {display_url(url)!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if parsed.get_backend_name() == "postgresql":
        parsed, connect_args = postgres_connect_args(parsed)
        # Every publishing worker (one per account due) holds a connection while it records a
        # post: the default pool (5 + 10 overflow) made the 16th account wait for a connection.
        engine = create_engine(parsed, connect_args=connect_args, pool_size=10, max_overflow=70)
        _ping_idle_connections(engine)
        return engine
    raise StoreError(f"unsupported database {parsed.get_backend_name()!r} in {display_url(url)}")


# Session settings every PostgreSQL connection gets, unless the URL sets them (as a query
# parameter of the same name, or in `options=-c name=value`). They bound what a hung or frozen
# node can do to the others: a statement never runs longer than statement_timeout, a row lock is
# waited for at most lock_timeout, and a node frozen inside a transaction loses its session (and
# its row locks) after idle_in_transaction_session_timeout, so the other nodes take its items over.
PG_SESSION_DEFAULTS = {
    "statement_timeout": "30s",
    "lock_timeout": "10s",
    "idle_in_transaction_session_timeout": "30s",
}
# libpq connection parameters (also overridable in the URL): TCP keepalives find a dead peer or a
# dropped path within about a minute, tcp_user_timeout bounds unacknowledged writes (ms).
PG_CONNECT_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}


def postgres_connect_args(parsed: Any) -> tuple[Any, dict[str, Any]]:
    """The URL (session settings moved out of its query) and psycopg's connect arguments:
    UTC sessions, PG_SESSION_DEFAULTS and PG_CONNECT_DEFAULTS, each overridable in the URL."""
    query = dict(parsed.query)
    opts = str(query.pop("options", "") or "")
    settings: list[str] = []
    # Sessions in UTC so that anything printed by psql or the server matches what we store.
    if "timezone" not in opts.lower():
        settings.append("-c timezone=UTC")
    for name, default in PG_SESSION_DEFAULTS.items():
        value = query.pop(name, None)
        if f"{name}=" in opts:
            continue
        settings.append(f"-c {name}={value if value is not None else default}")
    connect_args: dict[str, Any] = {"options": " ".join([opts, *settings]).strip()}
    for name, default in PG_CONNECT_DEFAULTS.items():
        if name not in query:
            connect_args[name] = default
    return parsed.set(query=query), connect_args


# A pooled PostgreSQL connection unused for longer than this is pinged before it is handed out.
PING_IDLE_AFTER_S = 10.0


def _ping_idle_connections(engine: Engine) -> None:
    """Pre-ping, but only connections that sat idle: `pool_pre_ping` costs a round trip on every
    checkout, i.e. on every post the publisher records (measured: 0.4 s of the 40-account figure).
    A connection idle past PING_IDLE_AFTER_S (a server restarted while the daemon waited) is
    checked and, if dead, replaced before use, as pool_pre_ping would."""
    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["crieur_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("crieur_idle_since")
        if since is None or time.monotonic() - since < PING_IDLE_AFTER_S:
            return
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception:
            raise exc.DisconnectionError() from None  # the pool throws it away and connects anew


def _set_wal(cursor: Any) -> None:
    """Switch the database to WAL, waiting for other processes if need be.

    Changing the journal mode needs a lock that SQLite does not wait for through the busy
    handler: a process opening a new store while another one creates it would fail with
    "database is locked". Retry for as long as the busy timeout allows instead.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store's directory for {database}: {exc.strerror}") from None
    # A file database: one pooled connection per publishing worker that may read at once.
    sizes: dict[str, Any] = {"pool_size": 10, "max_overflow": 250} if database and database != ":memory:" else {}
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **sizes)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the sqlite3 module, decide when transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _set_wal(cur)
        cur.execute("PRAGMA synchronous = NORMAL")
        _record.info["crieur_synchronous"] = "NORMAL"
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(WRITE_OPTION):
            # synchronous is per connection and pooled connections are reused: set it every time.
            sync = "FULL" if options.get(DURABLE_OPTION) else "NORMAL"
            # Only when it changes: a statement less per transaction on the publisher's hot path.
            info = conn.connection.info
            if info.get("crieur_synchronous") != sync:
                conn.exec_driver_sql(f"PRAGMA synchronous = {sync}")
                info["crieur_synchronous"] = sync
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN DEFERRED")

    return engine
