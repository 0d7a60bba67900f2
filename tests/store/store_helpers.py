"""Small builders shared by the store tests: a test schedule, items and a fixed clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.store import NewItem

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)  # a Monday, half past eight UTC
LEASE = timedelta(seconds=30)


class Hourly:
    """Every hour on the hour (UTC): the simplest schedule with the `next_slot` contract."""

    calls = 0

    def next_slot(self, after: datetime) -> datetime:
        Hourly.calls += 1
        return after.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


class EveryTwoHours:
    """Even hours only: a schedule that differs from Hourly, to test freed slots after a change."""

    def next_slot(self, after: datetime) -> datetime:
        t = after.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return t if t.hour % 2 == 0 else t + timedelta(hours=1)


def new_item(source: str = "articles/a.txt", **changes: Any) -> NewItem:
    base = NewItem(
        campaign="desk",
        account="desk-x",
        platform="x",
        source=source,
        content_hash="hash-1",
        title="Title",
        posts=["first post", "second post", "third post"],
    )
    return replace(base, **changes)


def at(hours: float) -> datetime:
    """T0 plus some hours."""
    return T0 + timedelta(hours=hours)
