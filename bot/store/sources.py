"""What the feed and folder sources remember between runs: entries already seen, and their own state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select

from bot.store.base import StoreBase
from bot.store.schema import seen_entries, source_states

_CHUNK = 500


class SourcesMixin(StoreBase):
    """The seen-set and state of each (campaign, source) pair; `source_key` is e.g. a feed URL."""

    def seen(self, campaign: str, source_key: str, entry_id: str) -> bool:
        """True if `entry_id` was marked seen for that campaign and source."""
        with self._read() as conn:
            return conn.execute(
                select(
                    exists().where(
                        seen_entries.c.campaign == campaign,
                        seen_entries.c.source_key == source_key,
                        seen_entries.c.entry_id == entry_id,
                    )
                )
            ).scalar_one()

    def seen_many(self, campaign: str, source_key: str, entry_ids: Iterable[str]) -> set[str]:
        """The subset of `entry_ids` already seen (one query per 500 ids)."""
        wanted = list(dict.fromkeys(entry_ids))
        with self._read() as conn:
            return self._seen_in(conn, campaign, source_key, wanted)

    def mark_seen(
        self, campaign: str, source_key: str, entry_ids: Iterable[str], *, now: datetime | None = None
    ) -> int:
        """Mark entries seen (idempotent, atomic); returns how many were not seen before."""
        now = self._now(now)
        ids = list(dict.fromkeys(entry_ids))
        if not ids:
            return 0
        with self._write() as conn:
            before = len(self._seen_in(conn, campaign, source_key, ids))
            conn.execute(
                self._insert(seen_entries).on_conflict_do_nothing(),
                [{"campaign": campaign, "source_key": source_key, "entry_id": e, "seen_at": now} for e in ids],
            )
        return len(ids) - before

    @staticmethod
    def _seen_in(conn: Any, campaign: str, source_key: str, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            found.update(
                conn.execute(
                    select(seen_entries.c.entry_id).where(
                        seen_entries.c.campaign == campaign,
                        seen_entries.c.source_key == source_key,
                        seen_entries.c.entry_id.in_(ids[start : start + _CHUNK]),
                    )
                ).scalars()
            )
        return found

    def source_state(self, campaign: str, source_key: str) -> dict[str, Any]:
        """The state last saved for the source (e.g. ETag, Last-Modified), or {} if none."""
        with self._read() as conn:
            state = conn.execute(
                select(source_states.c.state).where(
                    source_states.c.campaign == campaign, source_states.c.source_key == source_key
                )
            ).scalar()
        return dict(state) if state else {}

    def set_source_state(
        self, campaign: str, source_key: str, state: dict[str, Any], *, now: datetime | None = None
    ) -> None:
        """Replace the source's saved state (a JSON-serialisable dict)."""
        now = self._now(now)
        with self._write() as conn:
            conn.execute(
                self._insert(source_states)
                .values(campaign=campaign, source_key=source_key, state=dict(state), updated_at=now)
                .on_conflict_do_update(
                    index_elements=[source_states.c.campaign, source_states.c.source_key],
                    set_=dict(state=dict(state), updated_at=now),
                )
            )
