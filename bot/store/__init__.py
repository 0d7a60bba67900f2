"""The queue store: what is to be posted and what was posted (SQLite by default, PostgreSQL for many nodes)."""

from bot.store.api import Store, open_store
from bot.locations import resolve_store_url
from bot.store.engine import display_url
from bot.store.model import (
    AccountState,
    Attempt,
    EditConflict,
    EnqueueOutcome,
    InvalidTransition,
    Item,
    ItemState,
    LeaseLost,
    NewItem,
    NoSuchItem,
    PostRow,
    PostState,
    ReviewRefused,
    Schedule,
    SchemaTooNew,
    StoreError,
    StoreGone,
    StoreUnavailable,
)
from bot.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "AccountState",
    "Attempt",
    "EditConflict",
    "EnqueueOutcome",
    "InvalidTransition",
    "Item",
    "ItemState",
    "LeaseLost",
    "NewItem",
    "NoSuchItem",
    "PostRow",
    "PostState",
    "ReviewRefused",
    "Schedule",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "StoreGone",
    "StoreUnavailable",
    "display_url",
    "open_store",
    "resolve_store_url",
]
