"""Notifications through Apprise: events from the daemon, grouped in bursts, sent off the publishing path.

`Notifier.emit` never blocks and never raises: it puts the event on a queue. One background
thread groups the events of each (destination, kind) over the campaign's `notify.group` window
(100 failures in a minute make one message), sends each message with Apprise, and retries a
message that could not be delivered (logged) a few times with growing delays. Publishing never
waits for a notification; a stop flushes what is pending for a bounded time.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("crieur.notify")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Delays before the 2nd, 3rd… delivery attempt of a message; then it is dropped (and logged).
RETRY_DELAYS = (5.0, 30.0, 120.0, 600.0)
# Items listed in one grouped message; the rest are counted.
_LISTED = 20
_TITLES = {
    "failed": ("failed", "failed"),
    "needs_review": ("needs review", "need review"),
    "account_paused": ("account paused", "accounts paused"),
    "published": ("published", "published"),
    "daemon_stopped": ("daemon stopped", "daemons stopped"),
    "awaiting_review": ("awaiting review", "awaiting review"),
}


@dataclass(frozen=True)
class Event:
    """Something a person may want to know: `kind` is one of campaign.NOTIFY_EVENTS."""

    kind: str
    campaign: str | None
    summary: str  # one line: the item, the account and the reason
    fix: str = ""  # the command that fixes it, if any
    item_id: int | None = None
    account: str | None = None


@dataclass
class _Destination:
    """One campaign's notify section with its URLs expanded (secrets from env / credentials file)."""

    key: tuple[str, ...]
    urls: list[str]
    events: frozenset[str]
    group: float


@dataclass
class _Pending:
    destination: _Destination
    kind: str
    events: list[Event] = field(default_factory=list)
    send_at: float = 0.0
    tries: int = 0
    title: str = ""
    body: str = ""


def expand(url: str, env: Mapping[str, str], file_values: Mapping[str, str]) -> str:
    """`url` with each ${VAR} replaced from `env`, else the credentials file's [notify] table.

    :raises KeyError: naming every variable found in neither (never a value)
    """
    missing = [m for m in _ENV_REF.findall(url) if not (env.get(m) or file_values.get(m))]
    if missing:
        raise KeyError(", ".join(dict.fromkeys(missing)))
    return _ENV_REF.sub(lambda m: env.get(m.group(1)) or file_values[m.group(1)], url)


def _credentials_notify_table() -> dict[str, str]:
    """The `[notify]` table of the credentials file (`crieur auth`'s, or $CRIEUR_CREDENTIALS); {} if none."""
    try:
        from bot.credentials import default_path, read_table

        return read_table(default_path(), "notify")
    except Exception as error:  # a bad file is reported, and notifications go without it
        log.warning("notifications: credentials file not used: %s", error)
        return {}


def default_sender(urls: list[str], title: str, body: str, kind: str) -> bool:
    """Deliver one message to every URL with Apprise; True when all took it."""
    import apprise

    notify_type = {"failed": apprise.NotifyType.FAILURE, "needs_review": apprise.NotifyType.WARNING,
                   "account_paused": apprise.NotifyType.WARNING, "daemon_stopped": apprise.NotifyType.WARNING,
                   "published": apprise.NotifyType.SUCCESS}.get(kind, apprise.NotifyType.INFO)
    sender = apprise.Apprise()
    for url in urls:
        if not sender.add(url):
            log.error("notifications: Apprise does not understand one of the URLs (scheme %s)",
                      url.split("://", 1)[0])
    return bool(len(sender)) and bool(sender.notify(body=body, title=title, notify_type=notify_type))


class Notifier:
    """Sends the served campaigns' notifications; `emit` from any thread, `close` at the end."""

    def __init__(self, campaigns: Iterable[Any], *, env: Mapping[str, str] | None = None,
                 sender: Callable[[list[str], str, str, str], bool] = default_sender,
                 clock: Callable[[], float] = time.monotonic,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self._env = os.environ if env is None else env
        self._sender = sender
        self._clock = clock
        self._retry_delays = retry_delays
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._destinations: dict[str, _Destination] = {}
        self._pending: dict[tuple[tuple[str, ...], str], _Pending] = {}
        self._retrying: list[_Pending] = []
        self.sent = 0  # messages delivered (for tests and the log)
        self.configure(campaigns)
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    @property
    def enabled(self) -> bool:
        return bool(self._destinations)

    def configure(self, campaigns: Iterable[Any]) -> None:
        """(Re)read the campaigns' `notify:` sections (at start and on SIGHUP)."""
        file_values: dict[str, str] | None = None
        destinations: dict[str, _Destination] = {}
        for campaign in campaigns:
            section = getattr(campaign, "notify", None)
            if section is None:
                continue
            urls = []
            for raw in section.urls:
                if _ENV_REF.search(raw) and file_values is None:
                    file_values = _credentials_notify_table()
                try:
                    urls.append(expand(raw, self._env, file_values or {}))
                except KeyError as missing:
                    log.error("campaign %s: notify: variable %s is set neither in the environment nor in the "
                              "credentials file's [notify] table; that URL is skipped", campaign.name,
                              missing.args[0])
            if urls:
                destinations[campaign.name] = _Destination(
                    key=tuple(sorted(urls)), urls=urls, events=frozenset(section.events),
                    group=section.group.total_seconds())
        self._destinations = destinations

    def emit(self, event: Event) -> None:
        """Queue `event` for the destinations that want it; never blocks, never raises."""
        if self._destinations:
            self._queue.put_nowait(event)

    def close(self, timeout: float = 10.0) -> None:
        """Send what is pending now (grouping windows cut short), waiting at most `timeout` s."""
        self._queue.put_nowait(None)
        self._thread.join(timeout)

    # -- the worker --------------------------------------------------------------------------

    def _targets(self, event: Event) -> list[_Destination]:
        if event.campaign is None:  # the daemon's own events go to every destination, once each
            unique = {d.key: d for d in self._destinations.values()}
            return [d for d in unique.values() if event.kind in d.events]
        destination = self._destinations.get(event.campaign)
        return [destination] if destination is not None and event.kind in destination.events else []

    def _add(self, event: Event) -> None:
        for destination in self._targets(event):
            key = (destination.key, event.kind)
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = _Pending(destination, event.kind,
                                                        send_at=self._clock() + destination.group)
            pending.events.append(event)

    def _run(self) -> None:
        closing = False
        while True:
            now = self._clock()
            due = [p.send_at for p in list(self._pending.values()) + self._retrying]
            wait = max(0.0, min(due) - now) if due else None
            if closing:
                wait = 0.0
            try:
                event = self._queue.get(timeout=wait) if wait != 0.0 else self._queue.get_nowait()
                if event is None:
                    closing = True
                else:
                    self._add(event)
                continue
            except queue.Empty:
                pass
            now = self._clock()
            for key, pending in list(self._pending.items()):
                if closing or pending.send_at <= now:
                    del self._pending[key]
                    pending.title, pending.body = render(pending.kind, pending.events)
                    self._deliver(pending, final=closing)
            for pending in list(self._retrying):
                if closing or pending.send_at <= now:
                    self._retrying.remove(pending)
                    self._deliver(pending, final=closing)
            if closing:
                return

    def _deliver(self, pending: _Pending, *, final: bool) -> None:
        pending.tries += 1
        try:
            ok = self._sender(pending.destination.urls, pending.title, pending.body, pending.kind)
        except Exception as error:  # a notification must never take the daemon down
            log.warning("notification %r not delivered: %s", pending.title, type(error).__name__)
            ok = False
        if ok:
            self.sent += 1
            log.info("notification sent: %s", pending.title)
            return
        if final or pending.tries > len(self._retry_delays):
            log.error("notification %r not delivered after %d attempt(s); dropped", pending.title, pending.tries)
            return
        delay = self._retry_delays[pending.tries - 1]
        log.warning("notification %r not delivered; retrying in %.0f s", pending.title, delay)
        pending.send_at = self._clock() + delay
        self._retrying.append(pending)


def render(kind: str, events: list[Event]) -> tuple[str, str]:
    """(title, body) of the one message for `events` of one kind (a burst is listed, then counted)."""
    one, many = _TITLES.get(kind, (kind, kind))
    if len(events) == 1:
        event = events[0]
        title = f"crieur: {one}: " + (f"item {event.item_id} ({event.account})" if event.item_id is not None
                                     else (event.account or event.campaign or "daemon"))
        body = event.summary + (f"\nTo fix: {event.fix}" if event.fix else "")
        return title, body
    title = f"crieur: {len(events)} {'items' if events[0].item_id is not None else 'events'} {many}"
    lines = [f"- {e.summary}" + (f" (fix: {e.fix})" if e.fix else "") for e in events[:_LISTED]]
    if len(events) > _LISTED:
        lines.append(f"… and {len(events) - _LISTED} more (crieur status lists them)")
    return title, "\n".join(lines)
