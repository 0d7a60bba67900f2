"""Posting slots: standard cron weekdays, DST in Europe/Paris, quiet hours and account offsets."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from itertools import islice
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.schedule import (
    CronError,
    CronSlot,
    NoSlotError,
    QuietHours,
    Schedule,
    localize,
    parse_duration,
    wall_time_exists,
)

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")


def schedule(*slots: str, tz: ZoneInfo = PARIS, quiet: tuple[str, ...] = (), **offsets: timedelta) -> Schedule:
    return Schedule(
        timezone=tz,
        slots=tuple(CronSlot.parse(s) for s in slots),
        quiet_hours=tuple(QuietHours.parse(q) for q in quiet),
        offsets=offsets,
    )


def local(*args: int) -> datetime:
    """An aware Paris time (fold=0) converted to UTC."""
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def slots(s: Schedule, after: datetime, n: int, account: object = None) -> list[datetime]:
    return list(islice(s.iter_slots(after, account), n))


def walls(instants: list[datetime]) -> list[str]:
    return [i.astimezone(PARIS).strftime("%a %Y-%m-%d %H:%M %Z") for i in instants]


# --- DST: last Sunday of March (29 March 2026) and of October (25 October 2026) ------------


def test_slot_in_the_missing_hour_moves_to_the_first_valid_time_after_it() -> None:
    s = schedule("30 2 * * *")
    got = slots(s, local(2026, 3, 28, 12, 0), 3)
    assert got[0] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert walls(got) == [
        "Sun 2026-03-29 03:00 CEST",
        "Mon 2026-03-30 02:30 CEST",
        "Tue 2026-03-31 02:30 CEST",
    ]


def test_slot_in_the_repeated_hour_happens_once() -> None:
    s = schedule("30 2 * * *")
    got = slots(s, local(2026, 10, 24, 12, 0), 3)
    assert got == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST, the first 02:30
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),  # next day, not 01:30Z (the second 02:30)
        datetime(2026, 10, 27, 1, 30, tzinfo=UTC),
    ]


def test_after_inside_the_second_pass_of_the_repeated_hour_goes_to_the_next_day() -> None:
    s = schedule("30 2 * * *")
    second_pass = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 CET, after the 02:30 CEST slot
    assert s.next_slot(second_pass) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_half_hourly_slots_across_the_october_change() -> None:
    s = schedule("*/30 * * * *")
    got = slots(s, datetime(2026, 10, 24, 23, 0, tzinfo=UTC), 6)
    assert [g.strftime("%H:%M") for g in got] == ["23:30", "00:00", "00:30", "02:00", "02:30", "03:00"]
    assert len(set(got)) == len(got)


def test_half_hourly_slots_across_the_march_change() -> None:
    s = schedule("*/30 * * * *")
    got = slots(s, datetime(2026, 3, 29, 0, 0, tzinfo=UTC), 4)
    # 02:00 and 02:30 do not exist: both collapse onto 03:00, which is returned once.
    assert walls(got) == [
        "Sun 2026-03-29 01:30 CET",
        "Sun 2026-03-29 03:00 CEST",
        "Sun 2026-03-29 03:30 CEST",
        "Sun 2026-03-29 04:00 CEST",
    ]


def test_localize_and_wall_time_exists() -> None:
    gap = datetime(2026, 3, 29, 2, 30)
    repeated = datetime(2026, 10, 25, 2, 30)
    assert not wall_time_exists(gap, PARIS)
    assert wall_time_exists(repeated, PARIS)
    assert localize(gap, PARIS) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert localize(repeated, PARIS) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert localize(datetime(2026, 7, 1, 12, 0), PARIS) == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def test_dst_in_another_zone() -> None:
    ny = ZoneInfo("America/New_York")  # clocks go forward at 02:00 on 8 March 2026
    s = schedule("15 2 * * *", tz=ny)
    got = s.next_slot(datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    assert got.astimezone(ny).strftime("%Y-%m-%d %H:%M") == "2026-03-08 03:00"


# --- standard cron weekdays ---------------------------------------------------------------


MONDAY = local(2026, 6, 1, 0, 0)  # Monday 1 June 2026, midnight in Paris


@pytest.mark.parametrize(
    ("weekday", "days"),
    [
        ("0", {"Sun"}),
        ("7", {"Sun"}),
        ("1", {"Mon"}),
        ("6", {"Sat"}),
        ("sun", {"Sun"}),
        ("MON", {"Mon"}),
        ("friday", {"Fri"}),
        ("1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("mon-fri", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("0,6", {"Sat", "Sun"}),
        ("sat,sun", {"Sat", "Sun"}),
        ("5-7", {"Fri", "Sat", "Sun"}),
        ("fri-sun", {"Fri", "Sat", "Sun"}),
        ("fri-mon", {"Fri", "Sat", "Sun", "Mon"}),
        ("*/2", {"Sun", "Tue", "Thu", "Sat"}),
        ("1-5/2", {"Mon", "Wed", "Fri"}),
        ("1-7", {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}),
        ("*", {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}),
    ],
)
def test_standard_cron_weekdays(weekday: str, days: set[str]) -> None:
    s = schedule(f"0 9 * * {weekday}")
    got = slots(s, MONDAY, 14)
    assert {g.astimezone(PARIS).strftime("%a") for g in got} == days
    assert all(g.astimezone(PARIS).strftime("%H:%M") == "09:00" for g in got)


def test_sunday_as_0_is_not_apscheduler_monday() -> None:
    got = schedule("0 9 * * 0").next_slot(MONDAY)
    assert walls([got]) == ["Sun 2026-06-07 09:00 CEST"]


def test_day_of_month_or_day_of_week_as_in_standard_cron() -> None:
    # Both restricted: a day matching either fires (cron(8)), not only Mondays that are the 1st.
    got = slots(schedule("0 9 1 * mon"), local(2026, 5, 30, 0, 0), 4)
    assert [g.astimezone(PARIS).strftime("%a %d") for g in got] == ["Mon 01", "Mon 08", "Mon 15", "Mon 22"]
    got = slots(schedule("0 9 13 * fri"), local(2026, 3, 9, 0, 0), 3)
    assert [g.astimezone(PARIS).strftime("%a %d") for g in got] == ["Fri 13", "Fri 20", "Fri 27"]
    got = slots(schedule("0 9 10 * fri"), local(2026, 3, 9, 0, 0), 3)
    assert [g.astimezone(PARIS).strftime("%a %d") for g in got] == ["Tue 10", "Fri 13", "Fri 20"]


def test_macros() -> None:
    assert walls([schedule("@daily").next_slot(MONDAY)]) == ["Tue 2026-06-02 00:00 CEST"]
    assert schedule("@hourly").next_slot(MONDAY) == MONDAY + timedelta(hours=1)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 8 * * *", 'invalid cron expression "61 8 * * *"'),
        ("30 25 * * *", 'invalid cron expression "30 25 * * *"'),
        ("30 8 * 13 *", 'invalid cron expression "30 8 * 13 *"'),
        ("30 8 * *", 'invalid cron expression "30 8 * *": expected 5 fields (minute hour day month weekday)'),
        ("0 30 8 * * *", 'invalid cron expression "0 30 8 * * *": expected 5 fields (minute hour day month weekday)'),
        ("", 'invalid cron expression ""'),
        ("30 8 * * mon-fryday", 'invalid cron expression "30 8 * * mon-fryday": unknown weekday "fryday" (use 0-7 or sun-sat)'),
        ("30 8 * * 8", 'invalid cron expression "30 8 * * 8": unknown weekday "8" (use 0-7 or sun-sat)'),
        ("30 8 * * */0", 'invalid cron expression "30 8 * * */0": bad step "/0" in weekday field'),
        ("@reboot", 'invalid cron expression "@reboot": unknown macro; use one of @annually, @daily, @hourly, '
                    "@midnight, @monthly, @weekly, @yearly"),
    ],
)
def test_invalid_cron_quotes_the_expression(expression: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        CronSlot.parse(expression)
    assert str(caught.value) == message


def test_a_slot_that_never_comes() -> None:
    with pytest.raises(NoSlotError):
        schedule("0 0 30 2 *").next_slot(MONDAY)
    assert walls([schedule("0 12 29 2 *").next_slot(MONDAY)]) == ["Tue 2028-02-29 12:00 CET"]


# --- next_slot contract -------------------------------------------------------------------


def test_strictly_after_and_utc_out() -> None:
    s = schedule("30 8 * * *")
    first = s.next_slot(MONDAY)
    assert first.tzinfo is UTC
    assert s.next_slot(first) == first + timedelta(days=1)
    assert s.next_slot(first - timedelta(microseconds=1)) == first
    # any aware input zone is accepted
    assert s.next_slot(MONDAY.astimezone(ZoneInfo("Asia/Tokyo"))) == first


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        schedule("30 8 * * *").next_slot(datetime(2026, 6, 1))


def test_several_slots_are_merged_in_order() -> None:
    s = schedule("0 18 * * *", "30 8 * * mon-fri", "30 12 * * mon-fri")
    got = slots(s, local(2026, 6, 5, 0, 0), 5)  # Friday
    assert walls(got) == [
        "Fri 2026-06-05 08:30 CEST",
        "Fri 2026-06-05 12:30 CEST",
        "Fri 2026-06-05 18:00 CEST",
        "Sat 2026-06-06 18:00 CEST",
        "Sun 2026-06-07 18:00 CEST",
    ]


# --- quiet hours --------------------------------------------------------------------------


def test_quiet_hours_wrap_past_midnight() -> None:
    s = schedule("0 * * * *", quiet=("22:00-07:00",))
    got = slots(s, local(2026, 6, 1, 20, 30), 4)
    assert walls(got) == [
        "Mon 2026-06-01 21:00 CEST",
        "Tue 2026-06-02 07:00 CEST",  # 22:00 … 06:00 are skipped; 07:00 is outside (end exclusive)
        "Tue 2026-06-02 08:00 CEST",
        "Tue 2026-06-02 09:00 CEST",
    ]


def test_quiet_hours_within_one_day_and_several_windows() -> None:
    s = schedule("*/30 * * * *", quiet=("12:00-14:00", "00:00-06:00"))
    got = slots(s, local(2026, 6, 1, 11, 0), 3)
    assert [g.astimezone(PARIS).strftime("%H:%M") for g in got] == ["11:30", "14:00", "14:30"]
    got = slots(s, local(2026, 6, 1, 23, 0), 2)
    assert [g.astimezone(PARIS).strftime("%H:%M") for g in got] == ["23:30", "06:00"]


def test_quiet_hours_until_midnight() -> None:
    s = schedule("0 * * * *", quiet=("20:00-24:00",))
    got = slots(s, local(2026, 6, 1, 18, 30), 2)
    assert walls(got) == ["Mon 2026-06-01 19:00 CEST", "Tue 2026-06-02 00:00 CEST"]


def test_quiet_hours_parsing() -> None:
    q = QuietHours.parse("22:00-07:00")
    assert (q.start, q.end) == (time(22), time(7))
    assert q.contains(datetime(2026, 1, 1, 23, 59)) and q.contains(datetime(2026, 1, 1, 0, 0))
    assert q.contains(datetime(2026, 1, 1, 22, 0)) and not q.contains(datetime(2026, 1, 1, 7, 0))
    for bad in ("22-07", "25:00-07:00", "22:00-07:60", "22:00-22:00", "22:00"):
        with pytest.raises(ValueError, match="invalid quiet hours"):
            QuietHours.parse(bad)


def test_every_slot_quiet_is_no_slot() -> None:
    with pytest.raises(NoSlotError):
        schedule("0 23 * * *", quiet=("22:00-07:00",)).next_slot(MONDAY)


# --- account offsets ----------------------------------------------------------------------


def test_account_offset_shifts_the_slot() -> None:
    s = schedule("30 8 * * *", late=timedelta(minutes=5))
    account = SimpleNamespace(name="desk-x", offset=timedelta(minutes=2))
    base = s.next_slot(MONDAY)
    assert s.next_slot(MONDAY, "late") == base + timedelta(minutes=5)
    assert s.next_slot(MONDAY, account) == base + timedelta(minutes=2)
    # strictly after, offset included: 08:31 is past the 08:30 base slot but before 08:32
    assert s.next_slot(base + timedelta(minutes=1), account) == base + timedelta(minutes=2)
    assert s.next_slot(base + timedelta(minutes=2), account) == base + timedelta(days=1, minutes=2)


def test_offset_into_quiet_hours_skips_the_slot() -> None:
    s = schedule("50 21 * * *", quiet=("22:00-07:00",), late=timedelta(minutes=15))
    assert walls([s.next_slot(MONDAY)]) == ["Mon 2026-06-01 21:50 CEST"]
    with pytest.raises(NoSlotError):
        s.next_slot(MONDAY, "late")


def test_offset_applies_after_dst_resolution() -> None:
    s = schedule("30 2 * * *", late=timedelta(minutes=5))
    got = s.next_slot(local(2026, 3, 28, 12, 0), "late")
    assert walls([got]) == ["Sun 2026-03-29 03:05 CEST"]


def test_unknown_account_name() -> None:
    with pytest.raises(ValueError, match="unknown account 'nobody'"):
        schedule("30 8 * * *").next_slot(MONDAY, "nobody")


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20s", timedelta(seconds=20)),
        ("500ms", timedelta(milliseconds=500)),
        ("2s250ms", timedelta(seconds=2, milliseconds=250)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("1h0m5s", timedelta(hours=1, seconds=5)),
        (0, timedelta(0)),
        ("0s", timedelta(0)),
    ],
)
def test_durations(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["20", "20 sec", "1.5h", "h", "", "30m1h", 20, True, None, "-5m"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == f'invalid duration "{text}": use e.g. 20s, 5m, 1h, 1h30m'
