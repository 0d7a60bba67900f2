"""What the desk reads in bulk: the threads of a time window, light (no full posts), and counts by state."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bot.store.base import StoreBase, as_utc
from bot.store.schema import items, posts


@dataclass(frozen=True)
class BoardRow:
    """One thread on the desk's week board: no posts, only the start of the first one."""

    id: int
    campaign: str
    account: str
    platform: str
    profile: str
    state: str
    title: str
    due_at: datetime
    first_words: str
    posts: int


class BoardMixin(StoreBase):
    """Windowed reads for the desk: one indexed range query, the first post read by primary key."""

    def board_rows(
        self,
        begin: datetime,
        end: datetime,
        states: Collection[str],
        *,
        account: str | None = None,
        limit: int = 700,
        first_chars: int = 141,
    ) -> tuple[list[BoardRow], dict[str, int]]:
        """Threads in `states` due in [begin, end), in due order, at most `limit`; and how many
        there are by state in the window (all of them, not only the first `limit`)."""
        begin, end = as_utc(begin, "begin"), as_utc(end, "end")
        first_post = (
            select(func.substr(posts.c.text, 1, first_chars))
            .where(posts.c.item_id == items.c.id, posts.c.idx == 1)
            .scalar_subquery()
        )
        post_count = select(func.max(posts.c.idx)).where(posts.c.item_id == items.c.id).scalar_subquery()
        window = [items.c.state.in_(list(states)), items.c.due_at >= begin, items.c.due_at < end]
        if account:
            window.append(items.c.account == account)
        query = (
            select(items.c.id, items.c.campaign, items.c.account, items.c.platform, items.c.state, items.c.title,
                   items.c.due_at, items.c.options, first_post.label("first"), post_count.label("n"))
            .where(*window)
            .order_by(items.c.due_at, items.c.id)
            .limit(limit)
        )
        counting = select(items.c.state, func.count()).where(*window).group_by(items.c.state)
        with self._read() as conn:
            rows = conn.execute(query).all()
            counts = {str(row[0]): int(row[1]) for row in conn.execute(counting)}
        return [_board_row(r) for r in rows], counts

    def count_states(self, states: Collection[str]) -> int:
        """How many items are in any of `states` (the desk's "needs attention" badge)."""
        with self._read() as conn:
            return conn.execute(select(func.count()).where(items.c.state.in_(list(states)))).scalar_one()


def _board_row(row: Any) -> BoardRow:
    return BoardRow(
        id=row.id, campaign=row.campaign, account=row.account, platform=row.platform,
        profile=(row.options or {}).get("profile") or row.platform, state=row.state, title=row.title,
        due_at=row.due_at, first_words=row.first or "", posts=row.n or 0,
    )
