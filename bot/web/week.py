"""The week board's data: one windowed query over the store, plus the free slots of each account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.store.model import ItemState

# Per page: enough for a busy desk's week; beyond it the board says how many more there are.
MAX_ROWS = 700
# Per account and week: a schedule every minute must not fill the board with free slots.
MAX_FREE_SLOTS = 60
SHOWN_STATES = [s.value for s in ItemState if s not in (ItemState.CANCELLED, ItemState.REJECTED)]
FIRST_WORDS = 140


@dataclass(frozen=True)
class Entry:
    """One thread (or free slot) on the board."""

    at: datetime
    account: str
    platform: str
    item_id: int | None = None
    campaign: str | None = None
    state: str | None = None
    title: str = ""
    first_words: str = ""
    posts: int = 0

    @property
    def free(self) -> bool:
        return self.item_id is None


@dataclass
class Day:
    day: date
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Week:
    start: date
    zone: ZoneInfo
    days: list[Day]
    accounts: list[str]
    shown: int
    more: int  # threads of the window not shown (over MAX_ROWS)
    counts: dict[str, int]


def week_board(
    store: Any,
    campaigns: Mapping[str, Any],
    start: date,
    zone: ZoneInfo,
    *,
    account: str | None = None,
    now: datetime,
) -> Week:
    """The 7 days from `start` (in `zone`): each day's threads in time order (at most MAX_ROWS,
    the rest counted), with the free slots of the served accounts that are still to come."""
    begin = datetime.combine(start, time(0), zone)
    end = datetime.combine(start + timedelta(days=7), time(0), zone)
    rows, counts = store.board_rows(begin, end, SHOWN_STATES, account=account, limit=MAX_ROWS,
                                    first_chars=FIRST_WORDS + 1)
    more = max(0, sum(counts.values()) - len(rows))
    entries = [
        Entry(at=row.due_at, account=row.account, platform=row.profile, item_id=row.id, campaign=row.campaign,
              state=row.state, title=row.title, first_words=_first_words(row.first_words), posts=row.posts)
        for row in rows
    ]
    held = {(e.account, e.at) for e in entries}
    accounts = sorted({e.account for e in entries} | {a for c in campaigns.values() for a in c.accounts})
    if account:
        accounts = [a for a in accounts if a == account]
    for campaign in campaigns.values():
        for name, acc in campaign.accounts.items():
            if account and name != account:
                continue
            entries.extend(_free_slots(campaign, acc, max(begin, now), end, held))
    days = {start + timedelta(days=i): Day(start + timedelta(days=i)) for i in range(7)}
    for entry in sorted(entries, key=lambda e: (e.at, e.free, e.account)):
        local = entry.at.astimezone(zone).date()
        if local in days:
            days[local].entries.append(entry)
    return Week(start=start, zone=zone, days=list(days.values()), accounts=accounts,
                shown=len(rows), more=more, counts=counts)


def _free_slots(campaign: Any, account: Any, begin: datetime, end: datetime,
                held: set[tuple[str, datetime]]) -> list[Entry]:
    out: list[Entry] = []
    after = begin
    profile = getattr(account, "profile", account.platform)
    for _ in range(MAX_FREE_SLOTS * 4):
        try:
            slot = campaign.schedule.next_slot(after, account)
        except Exception:  # a schedule with no slot left: nothing free to show
            break
        if slot >= end:
            break
        if (account.name, slot) not in held:
            out.append(Entry(at=slot, account=account.name, platform=profile))
            if len(out) >= MAX_FREE_SLOTS:
                break
        after = slot
    return out


def _first_words(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= FIRST_WORDS:
        return flat
    return flat[:FIRST_WORDS].rsplit(" ", 1)[0] + "…"


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def parse_day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        return default


def accounts_of(campaigns: Mapping[str, Any]) -> dict[str, Any]:
    """Every served account by name."""
    out: dict[str, Any] = {}
    for campaign in campaigns.values():
        out.update(campaign.accounts)
    return out


def zone_of(campaigns: Sequence[Any] | Mapping[str, Any]) -> ZoneInfo:
    values = list(campaigns.values()) if isinstance(campaigns, Mapping) else list(campaigns)
    return values[0].timezone if values else ZoneInfo("UTC")


