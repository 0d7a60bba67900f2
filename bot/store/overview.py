"""Read-only summaries of the whole queue for `crieur status`: counts, next slots, recent problems."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, func, select

from bot.store.base import StoreBase
from bot.store.model import Item, ItemState
from bot.store.schema import free_slots, items, slot_cursors


class OverviewMixin(StoreBase):
    """Counts and lists that answer "what is queued, what is next, what needs a person"."""

    def count_by_state(self, campaigns: Collection[str] | None = None) -> dict[str, int]:
        """Number of items per state (states as stored, so states added later are counted too)."""
        query = select(items.c.state, func.count()).group_by(items.c.state)
        if campaigns is not None:
            query = query.where(items.c.campaign.in_(list(campaigns)))
        with self._read() as conn:
            return {str(row[0]): int(row[1]) for row in conn.execute(query)}

    def due_count(self, now: datetime | None = None, campaigns: Collection[str] | None = None) -> int:
        """Scheduled items whose time has come (due and next attempt at or before `now`)."""
        now = self._now(now)
        query = select(func.count()).where(items.c.state == ItemState.SCHEDULED, items.c.ready_at <= now)
        if campaigns is not None:
            query = query.where(items.c.campaign.in_(list(campaigns)))
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def upcoming(self, limit: int = 10, campaigns: Collection[str] | None = None) -> list[Item]:
        """The next `limit` scheduled items, earliest first."""
        cond: ColumnElement[bool] = items.c.state == ItemState.SCHEDULED
        if campaigns is not None:
            cond = cond & items.c.campaign.in_(list(campaigns))
        with self._read() as conn:
            return self._fetch_items(conn, cond, order=(items.c.ready_at, items.c.id), limit=limit)

    def recent_problems(self, limit: int = 10, campaigns: Collection[str] | None = None) -> list[Item]:
        """The items that need a person (failed, needs_review), the most recently changed first."""
        cond: ColumnElement[bool] = items.c.state.in_([ItemState.FAILED, ItemState.NEEDS_REVIEW])
        if campaigns is not None:
            cond = cond & items.c.campaign.in_(list(campaigns))
        with self._read() as conn:
            return self._fetch_items(conn, cond, order=(items.c.updated_at.desc(), items.c.id.desc()), limit=limit)

    def slot_position(self, account: str, now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
        """(the account's slot cursor — the last slot handed out —, its earliest freed future slot)."""
        now = self._now(now)
        with self._read() as conn:
            cursor = conn.execute(
                select(slot_cursors.c.last_slot_at).where(slot_cursors.c.account == account)).scalar()
            freed = conn.execute(
                select(func.min(free_slots.c.slot_at)).where(free_slots.c.account == account,
                                                             free_slots.c.slot_at > now)).scalar()
        return cursor, freed
