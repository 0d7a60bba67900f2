"""The Store object and `open_store`, which creates or upgrades the schema before handing it out."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError, SQLAlchemyError

from bot.store.accounts import AccountsMixin
from bot.store.base import Clock, store_fault, utc_now
from bot.store.daemons import DaemonsMixin
from bot.store.board import BoardMixin
from bot.locations import resolve_store_url
from bot.store.engine import WRITE_OPTION, create_store_engine, display_url
from bot.store.hotpath import HotPathMixin
from bot.store.items import ItemsMixin
from bot.store.model import StoreError, StoreUnavailable
from bot.store.overview import OverviewMixin
from bot.store.publishing import PublishingMixin
from bot.store.review import ReviewMixin
from bot.store.schema import ensure_schema
from bot.store.sources import SourcesMixin

# Serialises schema creation/upgrade between processes opening the same PostgreSQL database.
_PG_SCHEMA_LOCK = 0x63726965_7572  # "crieur"


class Store(ReviewMixin, ItemsMixin, PublishingMixin, AccountsMixin, SourcesMixin, DaemonsMixin, OverviewMixin,
            HotPathMixin, BoardMixin):
    """The queue store: one object per process, safe to share between threads.

    Every method is one transaction. Methods that take `now` use the store's clock when it is
    None; every datetime given must be aware, every datetime returned is aware UTC.
    """


def open_store(url: str, *, clock: Clock = utc_now) -> Store:
    """Open the store at `url` (a URL or plain path, see `resolve_store_url`), creating its tables
    or upgrading an older schema first.

    Raises SchemaTooNew (a StoreError) for a store written by a newer Crieur, and StoreError,
    naming the store without its password, when the database cannot be reached or upgraded.
    """
    url = resolve_store_url(url)
    engine = create_store_engine(url)
    store = Store(engine, url, clock)
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if store.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SCHEMA_LOCK})
                ensure_schema(conn, store._now(None))
    except StoreError:
        engine.dispose()
        raise
    except (OperationalError, DatabaseError, InterfaceError) as exc:
        engine.dispose()
        fault = store_fault(exc, display_url(url))
        raise StoreUnavailable(f"cannot open the store {display_url(url)}: {fault.cause}", fault.cause) from None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open the store {display_url(url)}: {type(exc).__name__}") from None
    return store
