"""Log lines for the daemon: one line per event, in the campaign's zone, as text or JSON."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, tzinfo


class _ZonedFormatter(logging.Formatter):
    """`2026-11-24 08:30:02 CET INFO message` — times in the campaign's zone, not the host's."""

    def __init__(self, zone: tzinfo) -> None:
        super().__init__()
        self.zone = zone

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        # One line per event, whatever the event quotes (a post's text has paragraph breaks).
        message = record.getMessage().replace("\r", "").replace("\n", "\\n")
        line = f"{when} {record.levelname} {message}"
        if record.exc_info and logging.getLogger().level <= logging.DEBUG:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601 with offset), level, logger, message."""

    def __init__(self, zone: tzinfo) -> None:
        super().__init__()
        self.zone = zone

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": datetime.fromtimestamp(record.created, self.zone).isoformat(timespec="seconds"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            },
            ensure_ascii=False,
        )


def configure_logging(fmt: str, zone: tzinfo) -> None:
    """Send log lines to stderr in `fmt` ("text" or "json"), times in `zone`; keeps the level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter(zone) if fmt == "json" else _ZonedFormatter(zone))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # APScheduler logs every job run at INFO: noise next to our one line per event.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
