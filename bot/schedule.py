"""Posting slots: standard cron in the campaign's zone, quiet hours, offsets, DST-exact."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Protocol

from apscheduler.triggers.cron import CronTrigger

UTC = timezone.utc

# How far back (in wall time) to start looking for the next slot: a slot whose wall time is
# earlier than `after`'s may still fall after it once DST is applied (a gap moves it forward).
_MARGIN = timedelta(hours=3)
# A schedule with no slot in this many wall-clock days never fires (e.g. "0 0 30 2 *").
_HORIZON = timedelta(days=366 * 5)

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")
_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # standard cron: 0 = Sunday
_FULL_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_APS_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler: 0 = Monday
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class NoSlotError(LookupError):
    """The schedule has no slot (outside quiet hours) within the search horizon."""


# --- durations and quiet hours --------------------------------------------------------------


def parse_duration(value: object) -> timedelta:
    """Read `20s`, `5m`, `1h`, `1h30m`, `2d`, `500ms` (or `0`) as a timedelta.

    :raises ValueError: with a message quoting the value, for anything else (a bare number other
        than 0 is refused: `spacing: 20` would silently mean seconds to some and minutes to others).
    """
    if isinstance(value, timedelta):
        return value
    if value == 0 and not isinstance(value, bool):
        return timedelta(0)
    text = value.strip() if isinstance(value, str) else None
    match = _DURATION.fullmatch(text) if text else None
    if not match or not any(match.groups()):
        raise ValueError(f'invalid duration "{value}": use e.g. 20s, 5m, 1h, 1h30m')
    days, hours, minutes, seconds, millis = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds, milliseconds=millis)


@dataclass(frozen=True)
class QuietHours:
    """A daily window of local wall time with no posting; `end < start` wraps past midnight."""

    start: time
    end: time  # time.max stands for 24:00
    text: str

    @classmethod
    def parse(cls, value: object) -> QuietHours:
        """Read `"22:00-07:00"`. :raises ValueError: quoting the value when malformed or empty."""
        match = _WINDOW.fullmatch(value.strip()) if isinstance(value, str) else None
        bad = ValueError(f'invalid quiet hours "{value}": expected "HH:MM-HH:MM", e.g. "22:00-07:00"')
        if not match:
            raise bad
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise bad
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if start == end:
            raise ValueError(f'invalid quiet hours "{value}": start and end are the same')
        return cls(start, end, value.strip())

    def contains(self, wall: datetime) -> bool:
        """True when the local wall time `wall` is inside the window."""
        t = wall.time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def end_after(self, wall: datetime) -> datetime:
        """The local wall time at which the window containing `wall` ends."""
        day: date = wall.date()
        if self.start > self.end and wall.time() >= self.start:
            day += timedelta(days=1)
        if self.end == time.max:
            return datetime.combine(day + timedelta(days=1), time(0))
        return datetime.combine(day, self.end)


# --- standard cron → APScheduler ------------------------------------------------------------


class CronError(ValueError):
    """A slot expression that is not valid 5-field cron; the message quotes the expression."""


@dataclass(frozen=True)
class CronSlot:
    """One cron expression, as one or two APScheduler triggers over naive local wall time."""

    expression: str
    triggers: tuple[CronTrigger, ...]

    @classmethod
    def parse(cls, expression: object) -> CronSlot:
        """Parse standard 5-field cron (minute hour day month weekday) or an @macro.

        Weekdays follow standard cron: 0 and 7 are Sunday, 1 is Monday, names `sun`–`sat`, ranges
        and steps; they are translated to APScheduler's numbering (0 = Monday). As in standard
        cron, when both day-of-month and day-of-week are restricted a day matching EITHER fires.

        :raises CronError: quoting the expression.
        """
        text = expression.strip() if isinstance(expression, str) else ""
        quoted = f'invalid cron expression "{expression}"'
        if not text:
            raise CronError(quoted)
        fields = _MACROS.get(text.lower(), text).split()
        if text.startswith("@") and text.lower() not in _MACROS:
            raise CronError(f"{quoted}: unknown macro; use one of {', '.join(sorted(_MACROS))}")
        if len(fields) != 5:
            raise CronError(f"{quoted}: expected 5 fields (minute hour day month weekday)")
        minute, hour, day, month, weekday = fields
        try:
            days = _standard_weekdays(weekday)
        except ValueError as exc:
            raise CronError(f"{quoted}: {exc}") from None
        aps_weekday = "*" if len(days) == 7 else ",".join(_APS_WEEKDAYS[(d - 1) % 7] for d in sorted(days))
        # Vixie cron: a field "restricted" unless it starts with '*'; both restricted → OR.
        both = not day.startswith("*") and not weekday.startswith("*")
        variants = [(day, "*"), ("*", aps_weekday)] if both else [(day, aps_weekday)]
        try:
            triggers = tuple(
                CronTrigger(minute=minute, hour=hour, day=d, month=month, day_of_week=w, timezone=UTC)
                for d, w in variants
            )
        except (ValueError, TypeError, KeyError):
            raise CronError(quoted) from None
        return cls(text, triggers)

    def next_wall(self, wall: datetime) -> datetime | None:
        """The first naive wall time strictly after `wall` matched by the expression."""
        # The triggers run in UTC so their arithmetic is pure wall-clock arithmetic, free of DST;
        # +1 µs then APScheduler's ceiling to the second gives "strictly after".
        now = wall.replace(tzinfo=UTC) + timedelta(microseconds=1)
        found = [t.get_next_fire_time(None, now) for t in self.triggers]
        found = [f for f in found if f is not None]
        return min(found).replace(tzinfo=None) if found else None


def _standard_weekdays(text: str) -> set[int]:
    """Expand a standard-cron weekday field into a set of days, 0 = Sunday."""
    days: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f'bad step "/{step_text}" in weekday field')
            step = int(step_text)
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _weekday(a), _weekday(b)
            if last < first and last == 0:
                last = 7  # "5-0" / "fri-sun": through Sunday
            elif last < first:
                last += 7  # a range that wraps past Saturday
        else:
            first = _weekday(base)
            last = 6 if step_text else first
        days.update(d % 7 for d in range(first, last + 1, step))
    return days


def _weekday(token: str) -> int:
    token = token.strip().lower()
    if token.isdigit() and int(token) <= 7:
        return int(token)  # 7 (Sunday) kept as 7 so that ranges like 5-7 work; callers use % 7
    if token in _WEEKDAYS:
        return _WEEKDAYS.index(token)
    if token in _FULL_WEEKDAYS:
        return _FULL_WEEKDAYS.index(token)
    raise ValueError(f'unknown weekday "{token}" (use 0-7 or sun-sat)')


# --- wall time ↔ UTC ------------------------------------------------------------------------


def wall_time_exists(wall: datetime, tz: tzinfo) -> bool:
    """False when the naive local `wall` falls in a DST gap (clocks jumped over it)."""
    aware = wall.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall.replace(fold=0)


def localize(wall: datetime, tz: tzinfo) -> datetime:
    """Turn a naive local wall time into an aware UTC datetime, DST-exact.

    A wall time that happens twice (clocks go back) resolves to its first occurrence; one that does
    not exist (clocks go forward) resolves to the first valid instant after it, the end of the gap
    (02:30 on the spring-forward day in Paris → 03:00 local).
    """
    wall = wall.replace(tzinfo=None)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In a gap: the transition lies between the two readings; find it to the second.
    other = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(first, other), max(first, other)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) // 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


# --- the schedule ---------------------------------------------------------------------------


class _HasOffset(Protocol):
    name: str
    offset: timedelta


@dataclass(frozen=True)
class Schedule:
    """A campaign's posting slots.

    `slots` are cron expressions read in `timezone`; `spacing` separates the posts of one thread;
    no slot is used inside `quiet_hours`; `offsets` shifts each named account's slots (so that two
    accounts of one campaign do not post at the same second).
    """

    timezone: tzinfo
    slots: tuple[CronSlot, ...]
    spacing: timedelta = timedelta(seconds=20)
    quiet_hours: tuple[QuietHours, ...] = ()
    offsets: Mapping[str, timedelta] = field(default_factory=dict)

    @property
    def expressions(self) -> tuple[str, ...]:
        return tuple(s.expression for s in self.slots)

    def next_slot(self, after: datetime, account: _HasOffset | str | None = None) -> datetime:
        """The first slot strictly after `after` for `account`, as an aware UTC datetime.

        The slot is the cron time in the campaign's zone (DST-exact, see `localize`) plus the
        account's offset, skipped while inside quiet hours (checked at that final time).

        :param after: an aware datetime (any zone).
        :param account: an Account (its own `offset`), an account name of this campaign, or None.
        :raises ValueError: if `after` is naive or the account name is unknown.
        :raises NoSlotError: if no slot exists within about five years.
        """
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError("next_slot needs an aware datetime")
        offset = self._offset(account)
        after = after.astimezone(UTC)
        base_after = after - offset
        wall = self._wall(base_after) - _MARGIN
        limit = wall + _HORIZON
        while wall < limit:
            nxt = self._next_wall(wall)
            if nxt is None:
                break
            wall = nxt
            slot = localize(nxt, self.timezone)
            if slot <= base_after:
                continue
            when = slot + offset
            quiet = self._quiet(when)
            if quiet is None:
                return when
            # Jump towards the end of the quiet window (keeping the DST margin) instead of
            # testing every slot inside it; max() guarantees progress.
            end = localize(quiet.end_after(self._wall(when)), self.timezone)
            wall = max(wall, self._wall(end - offset) - _MARGIN)
        raise NoSlotError("no posting slot outside quiet hours in the next five years")

    def iter_slots(self, after: datetime, account: _HasOffset | str | None = None) -> Iterator[datetime]:
        """Successive `next_slot`s after `after` (an endless iterator)."""
        while True:
            after = self.next_slot(after, account)
            yield after

    def _offset(self, account: _HasOffset | str | None) -> timedelta:
        if account is None:
            return timedelta(0)
        if isinstance(account, str):
            try:
                return self.offsets[account]
            except KeyError:
                raise ValueError(f"unknown account {account!r}") from None
        return account.offset

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.timezone).replace(tzinfo=None)

    def _next_wall(self, wall: datetime) -> datetime | None:
        found = [w for w in (s.next_wall(wall) for s in self.slots) if w is not None]
        return min(found) if found else None

    def _quiet(self, when: datetime) -> QuietHours | None:
        local = self._wall(when)
        return next((q for q in self.quiet_hours if q.contains(local)), None)
