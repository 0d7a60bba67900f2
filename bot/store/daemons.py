"""Daemon heartbeats: which `crieur run` processes serve the store, on which node, since when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from bot.store.base import StoreBase
from bot.store.schema import daemons

# A daemon whose last heartbeat is older than this is taken for dead (it beats every 10 s).
HEARTBEAT_INTERVAL = timedelta(seconds=10)
ALIVE_WITHIN = timedelta(seconds=35)
# Stopped daemons are kept this long, so `crieur status` can say when the last one stopped.
_KEEP_STOPPED = timedelta(days=7)


@dataclass(frozen=True)
class DaemonRecord:
    """One `crieur run` process as the store knows it; `alive` is judged at the time of reading."""

    holder: str
    node: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    alive: bool
    info: dict[str, Any] = field(default_factory=dict)


class DaemonsMixin(StoreBase):
    """Registering, beating and listing daemons (one row per process)."""

    def daemon_started(self, holder: str, node: str, pid: int, info: dict[str, Any] | None = None,
                       *, now: datetime | None = None) -> None:
        """Record that the daemon `holder` started on `node` (its row replaces any older one);
        stopped daemons older than a week are forgotten."""
        now = self._now(now)
        with self._write() as conn:
            conn.execute(delete(daemons).where(daemons.c.holder == holder))
            conn.execute(delete(daemons).where(daemons.c.stopped_at < now - _KEEP_STOPPED))
            conn.execute(daemons.insert().values(holder=holder, node=node, pid=pid, started_at=now,
                                                 heartbeat_at=now, stopped_at=None, info=dict(info or {})))

    def daemon_heartbeat(self, holder: str, *, now: datetime | None = None) -> None:
        """The daemon `holder` is alive at `now`."""
        now = self._now(now)
        with self._write() as conn:
            conn.execute(update(daemons).where(daemons.c.holder == holder).values(heartbeat_at=now))

    def daemon_stopped(self, holder: str, *, now: datetime | None = None) -> None:
        """The daemon `holder` stopped in an orderly way at `now`."""
        now = self._now(now)
        with self._write() as conn:
            conn.execute(update(daemons).where(daemons.c.holder == holder)
                         .values(heartbeat_at=now, stopped_at=now))

    def daemons(self, now: datetime | None = None) -> list[DaemonRecord]:
        """Every daemon recorded, the most recently started first; `alive` when not stopped and
        its last heartbeat is less than ALIVE_WITHIN old at `now`."""
        now = self._now(now)
        with self._read() as conn:
            rows = conn.execute(select(daemons).order_by(daemons.c.started_at.desc())).all()
        return [
            DaemonRecord(
                holder=row.holder, node=row.node, pid=row.pid, started_at=row.started_at,
                heartbeat_at=row.heartbeat_at, stopped_at=row.stopped_at,
                alive=row.stopped_at is None and now - row.heartbeat_at < ALIVE_WITHIN,
                info=dict(row.info or {}),
            )
            for row in rows
        ]
