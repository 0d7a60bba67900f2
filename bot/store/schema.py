"""The store's tables, its schema version, and the upgrades from older versions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
)
from sqlalchemy.types import TypeDecorator

from bot.store.model import SchemaTooNew, StoreError

# Bump when the tables change, and add the step from the previous version to MIGRATIONS.
SCHEMA_VERSION = 4


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    PostgreSQL stores `timestamptz`. SQLite has no datetime type: SQLAlchemy stores a fixed-width
    ISO string, which sorts and compares correctly only if every value is in the same zone, so
    values are converted to UTC and stored naive, then given back their UTC tzinfo when read.
    A naive datetime is refused: its zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store; use aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# BIGINT ids on PostgreSQL; SQLite needs exactly INTEGER for a rowid alias with autoincrement.
IdType = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

schema_version = Table(
    "crieur_schema",
    metadata,
    Column("version", Integer, nullable=False),
    Column("upgraded_at", UTCDateTime, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("campaign", String(200), nullable=False),
    Column("account", String(200), nullable=False),
    Column("platform", String(50), nullable=False),
    Column("source", Text, nullable=False),
    Column("content_hash", String(128), nullable=False),
    Column("title", Text, nullable=False),
    Column("lang", String(35)),
    Column("media", JSON, nullable=False),
    Column("options", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    # The schedule slot the item occupies; NULL when it has none (explicit time, cancelled).
    Column("slot_at", UTCDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("lease_holder", String(200)),
    Column("lease_expires_at", UTCDateTime),
    # When the item can next be claimed: max(due_at, next_attempt_at) while scheduled, the lease
    # expiry while publishing, NULL in every other state. One indexed column makes "the next due
    # item" an index range scan in due order instead of a scan over every item ever queued.
    Column("ready_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Optimistic concurrency for people's edits (see Item.version).
    Column("version", Integer, nullable=False, default=0, server_default=text("0")),
    # Two threads of one account never share a slot, whichever process enqueues them.
    UniqueConstraint("account", "slot_at", name="uq_items_account_slot"),
    Index("ix_items_identity", "campaign", "account", "source"),
    Index(
        "ix_items_ready",
        "ready_at",
        "id",
        sqlite_where=text("ready_at IS NOT NULL"),
        postgresql_where=text("ready_at IS NOT NULL"),
    ),
    Index("ix_items_state_due", "state", "due_at"),
)

posts = Table(
    "posts",
    metadata,
    Column("item_id", IdType, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),  # 1-based position in the thread
    Column("text", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("remote_id", Text),  # opaque: X and Bluesky ids are not numbers one can trust
    Column("url", Text),
    Column("posted_at", UTCDateTime),
    # Sent with the post where the platform supports it (Mastodon's Idempotency-Key, Bluesky's
    # record key), so a retry after a crash cannot create a second copy. Made once, never changed.
    Column("idempotency_key", String(64), nullable=False, unique=True),
    # When the post first may have gone out (marked in doubt before sending): an idempotency key
    # is honoured for a while only (an hour on Mastodon), measured from then.
    Column("sent_at", UTCDateTime),
)

# The last slot handed out per account: the next enqueue starts from it rather than walking the
# schedule past every queued item. Its row is also the per-account lock of enqueue on PostgreSQL.
slot_cursors = Table(
    "slot_cursors",
    metadata,
    Column("account", String(200), primary_key=True),
    Column("last_slot_at", UTCDateTime),
)

# Slots in the future freed by a cancel or a reschedule, handed out again before the cursor moves.
free_slots = Table(
    "free_slots",
    metadata,
    Column("account", String(200), primary_key=True),
    Column("slot_at", UTCDateTime, primary_key=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account", String(200), primary_key=True),
    # Paused while pause_reason is set and paused_until is NULL (until resumed) or in the future.
    Column("paused_until", UTCDateTime),
    Column("pause_reason", Text),
    Column("rate_limit", JSON),  # the last rate-limit headers the platform sent
    Column("rate_limit_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("item_id", IdType, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("account", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("post_index", Integer),
    Column("outcome", String(40), nullable=False),
    Column("message", Text),
    Column("remote_id", Text),
    Index("ix_attempts_item", "item_id", "id"),
    Index("ix_attempts_at", "at"),
)

seen_entries = Table(
    "seen_entries",
    metadata,
    Column("campaign", String(200), primary_key=True),
    Column("source_key", Text, primary_key=True),
    Column("entry_id", Text, primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)

source_states = Table(
    "source_states",
    metadata,
    Column("campaign", String(200), primary_key=True),
    Column("source_key", Text, primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The daemons serving the store (one row per `crieur run` process, kept after it stops): what
# `crieur status` reads to say whether a daemon is alive, on which node, since when.
daemons = Table(
    "daemons",
    metadata,
    Column("holder", String(200), primary_key=True),
    Column("node", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime),
    Column("info", JSON, nullable=False),
)

# MIGRATIONS[n] upgrades a store from version n to n + 1, inside the opening transaction
# (DDL is transactional on both SQLite and PostgreSQL, so a failed step changes nothing).
Migration = Callable[[Connection], None]


def _add_daemons(conn: Connection) -> None:
    """1 -> 2: the `daemons` table (heartbeats for `crieur status`)."""
    daemons.create(conn)


def _add_item_version(conn: Connection) -> None:
    """2 → 3: items get the `version` column the desk's edits check (existing items start at 0)."""
    conn.execute(text("ALTER TABLE items ADD COLUMN version INTEGER NOT NULL DEFAULT 0"))


def _add_post_sent_at(conn: Connection) -> None:
    """3 → 4: posts get `sent_at`, the time a post in doubt was first sent (None for older ones)."""
    kind = posts.c.sent_at.type.compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE posts ADD COLUMN sent_at {kind}"))


MIGRATIONS: dict[int, Migration] = {1: _add_daemons, 2: _add_item_version, 3: _add_post_sent_at}


def ensure_schema(conn: Connection, now: datetime) -> int:
    """Create the tables of an empty database, or upgrade an older store; return the old version.

    Runs inside the caller's write transaction (which holds the database's write lock on
    SQLite, and an advisory lock on PostgreSQL), so two processes opening a new store at once
    do not both create it. Raises SchemaTooNew for a store written by a newer Crieur, and
    StoreError for a database that holds other tables but no Crieur schema, or an upgrade that fails.
    """
    names = set(inspect(conn).get_table_names())
    if schema_version.name not in names:
        clash = names & set(metadata.tables)
        if clash:
            raise StoreError(
                f"the database already has tables named {', '.join(sorted(clash))} but no Crieur "
                "schema version: it is not a Crieur store; give --db another database"
            )
        metadata.create_all(conn)
        conn.execute(schema_version.insert().values(version=SCHEMA_VERSION, upgraded_at=now))
        return 0
    found = conn.execute(select(schema_version.c.version)).scalar()
    if found is None:
        raise StoreError("the store's schema version is missing (table crieur_schema is empty)")
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"this store was written by a newer Crieur (schema version {found}; this Crieur "
            f"knows up to {SCHEMA_VERSION}): upgrade Crieur (pip install -U crieur) to use it"
        )
    version = found
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise StoreError(
                f"cannot upgrade this store from schema version {version}: this Crieur has no "
                f"upgrade path from it; export the queue with the Crieur that wrote it"
            )
        try:
            step(conn)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"upgrading the store from schema version {version} to {version + 1} failed: {exc}"
            ) from exc
        version += 1
    if version != found:
        conn.execute(schema_version.update().values(version=version, upgraded_at=now))
    return int(found)

