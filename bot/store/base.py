"""What every part of the store shares: transactions, the clock, row locks and reading items back."""

from __future__ import annotations

import threading

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DatabaseError, IntegrityError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement

from bot.store.engine import DURABLE_OPTION, WRITE_OPTION, display_url
from bot.store.model import Item, ItemState, NoSuchItem, PostRow, PostState, StoreUnavailable
from bot.store.schema import items, posts
from bot.store.states import Actor, moved_values

Clock = Callable[[], datetime]

# Posts are read for at most this many items per query (SQLite caps bound parameters).
_CHUNK = 500


def utc_now() -> datetime:
    """The current time, aware UTC: the store's default clock."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime, what: str = "time") -> datetime:
    """`value` converted to UTC; a naive datetime is a programming error (its zone is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(timezone.utc)


class StoreBase:
    """The engine, the clock, and the helpers that the store's operation modules build on."""

    def __init__(self, engine: Engine, url: str, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.url = url
        self._clock = clock
        self.dialect = engine.dialect.name  # "sqlite" or "postgresql"
        # SQLite has one writer at a time; threads of this process queue on this mutex rather
        # than on SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10… ms) and made
        # the daemon's publishing workers wait on each other far longer than the writes take.
        self._sqlite_writer = threading.Lock() if self.dialect == "sqlite" else None

    @property
    def display_url(self) -> str:
        """The store's URL without its password, for messages (`commands that write say which store`)."""
        return display_url(self.url)

    def close(self) -> None:
        """Close every pooled connection; the Store must not be used afterwards."""
        self.engine.dispose()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- time -------------------------------------------------------------------------------

    def _now(self, now: datetime | None) -> datetime:
        return as_utc(now, "now") if now is not None else as_utc(self._clock(), "the clock's time")

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both backends)."""
        with self._faults(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _faults(self) -> Iterator[None]:
        """Turn the database's operational errors into StoreUnavailable, naming the cause in one
        line without SQL or parameters (they may hold an article's text)."""
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            raise store_fault(exc, self.display_url) from None
        except DatabaseError as exc:
            if isinstance(exc, (IntegrityError, ProgrammingError)):
                raise  # a bug or a constraint the caller handles, not a fault of the store
            raise store_fault(exc, self.display_url) from None

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[Connection]:
        """A write transaction: on SQLite it holds the database's write lock from its first statement
        (BEGIN IMMEDIATE), so it never fails half-way on a lock another writer took meanwhile.
        `durable`: the commit must survive a power cut too (see engine.DURABLE_OPTION)."""
        with self._faults(), self._sqlite_writer or nullcontext(), self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True, DURABLE_OPTION: durable})
            with conn.begin():
                yield conn

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT, which has `on_conflict_do_nothing` / `on_conflict_do_update`."""
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    def _lock_item(self, conn: Connection, item_id: int) -> Any:
        """The item's row, locked until the transaction ends (FOR UPDATE on PostgreSQL; SQLite's
        write transaction already excludes every other writer). NoSuchItem if there is none."""
        row = conn.execute(select(items).where(items.c.id == item_id).with_for_update()).first()
        if row is None:
            raise NoSuchItem(f"no item {item_id}")
        return row

    def _move(
        self,
        conn: Connection,
        row: Any,
        move: str,
        actor: Actor,
        now: datetime,
        *,
        holder: str | None = None,
        lease_expires_at: datetime | None = None,
        **changes: Any,
    ) -> dict[str, Any]:
        """Make `move` (see bot.store.states.MOVES) on the locked item `row`; return the values written.

        The only way the store changes an item's state: the state table checks the move and
        derives the lease and `ready_at` columns. The UPDATE is guarded by the state read, so a
        row changed behind the caller's back (it was not locked) is an error, not a lost update.
        """
        values = moved_values(move, row, actor, now, holder=holder, lease_expires_at=lease_expires_at, **changes)
        done = conn.execute(
            update(items).where(items.c.id == row.id, items.c.state == row.state).values(**values)
        ).rowcount
        if done != 1:
            raise RuntimeError(f"item {row.id} changed state during move {move!r}; lock the row first")
        return values

    # -- reading items back -----------------------------------------------------------------

    def _fetch_items(
        self,
        conn: Connection,
        where: ColumnElement[bool] | None = None,
        *,
        order: Sequence[Any] = (items.c.due_at, items.c.id),
        limit: int | None = None,
    ) -> list[Item]:
        query = select(items).order_by(*order)
        if where is not None:
            query = query.where(where)
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execute(query).all()
        by_item: dict[int, list[PostRow]] = {row.id: [] for row in rows}
        ids = list(by_item)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for p in conn.execute(
                select(posts).where(posts.c.item_id.in_(chunk)).order_by(posts.c.item_id, posts.c.idx)
            ):
                by_item[p.item_id].append(_post_row(p))
        return [_item(row, by_item[row.id]) for row in rows]

    def _item_by_id(self, conn: Connection, item_id: int) -> Item:
        found = self._fetch_items(conn, items.c.id == item_id)
        if not found:
            raise NoSuchItem(f"no item {item_id}")
        return found[0]


# SQLite's own words for the faults a person must fix, with what to do about them.
_SQLITE_HINTS = (
    ("readonly database", "the store file or its directory is read-only: give this user write access"),
    ("disk is full", "the disk holding the store is full: free some space"),
    ("unable to open database file", "the store file cannot be opened (its directory is missing or not "
     "writable)"),
    ("disk i/o error", "the disk holding the store failed to read or write"),
    ("database is locked", "another process holds the store's write lock"),
)


def store_fault(exc: Exception, where: str) -> StoreUnavailable:
    """The StoreUnavailable for a driver error: its first line only (a psycopg or SQLAlchemy
    message goes on with the statement and its parameters), plus a hint for SQLite's faults."""
    orig = getattr(exc, "orig", None) or exc
    cause = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    cause = cause.split("[SQL:", 1)[0].strip()
    lowered = cause.lower()
    for needle, hint in _SQLITE_HINTS:
        if needle in lowered:
            cause = f"{cause} ({hint})"
            break
    sqlstate = getattr(orig, "sqlstate", None)
    deadlock = sqlstate in ("40P01", "40001") or "deadlock" in lowered
    return StoreUnavailable(f"the store {where} is unavailable: {cause}", cause, deadlock=deadlock)


def _post_row(p: Any) -> PostRow:
    return PostRow(
        index=p.idx,
        text=p.text,
        state=PostState(p.state),
        remote_id=p.remote_id,
        url=p.url,
        posted_at=p.posted_at,
        idempotency_key=p.idempotency_key,
        sent_at=p.sent_at,
    )


def _item(row: Any, post_rows: list[PostRow]) -> Item:
    return Item(
        id=row.id,
        campaign=row.campaign,
        account=row.account,
        platform=row.platform,
        source=row.source,
        content_hash=row.content_hash,
        title=row.title,
        state=ItemState(row.state),
        due_at=row.due_at,
        slot_at=row.slot_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        posts=post_rows,
        lang=row.lang,
        media=list(row.media or []),
        options=dict(row.options or {}),
        lease_holder=row.lease_holder,
        lease_expires_at=row.lease_expires_at,
        version=row.version,
    )
