"""Reading `--at` times and printing times in a campaign's zone (`2026-11-24 08:30 CET`)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bot.errors import BadInput


def parse_at(text: str, zone: ZoneInfo, *, now: datetime | None = None) -> datetime:
    """Parse `now` or an ISO 8601 time; a time without an offset is read in `zone`.

    Returns an aware UTC datetime. A wall time that does not exist in `zone` (skipped by a
    clock change) or is malformed raises `BadInput`.
    """
    if text.strip().lower() == "now":
        return (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"--at: {text!r} is not an ISO 8601 time (e.g. 2026-11-24T08:30 or now)") from None
    if parsed.tzinfo is None:
        local = parsed.replace(tzinfo=zone)
        # A wall time in the hour skipped by a spring-forward does not survive a UTC round trip.
        round_trip = local.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
        if round_trip != parsed:
            raise BadInput(f"--at: {text} does not exist in {zone.key} (the clocks skip that hour)")
        parsed = local
    return parsed.astimezone(timezone.utc)


def format_local(moment: datetime | None, zone: ZoneInfo) -> str:
    """`2026-11-24 08:30 CET` — the time in `zone` with its abbreviation; `-` for None."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:  # stored times are UTC; be lenient with naive values
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 with the zone's offset, for JSON output."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone).isoformat()
