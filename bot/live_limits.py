"""An account's limits as its server states them (a Mastodon instance's /api/v2/instance), fetched
when needed, cached per account with a time to live, and applied where threads are formatted."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.platforms.plugin import MediaLimits, load_reference

log = logging.getLogger("crieur.limits")

#: How long a server's limits are trusted by enqueue and preview (they change rarely).
TTL = timedelta(hours=1)
#: How old the limits checked just before a thread goes out may be (read by this process).
RECHECK = timedelta(minutes=5)
CACHE_FILE = "server-limits.json"


class ServerUnreachable(Exception):
    """The server's limits could not be read (network, HTTP error, an answer that is not its info)."""


@dataclass(frozen=True)
class ServerLimits:
    """What one account's server says it allows, and where that was read.

    `limit`/`url_length` are None when the server does not say; `media` likewise. `software`
    names the server ("Hollo 0.6.1"); `markdown` is True when it renders post text as Markdown;
    `counting` is how it counts a post ("mastodon", or "graphemes"/"code_points" with URLs in full).
    """

    limit: int | None
    url_length: int | None
    media: MediaLimits | None
    source: str
    software: str = ""
    markdown: bool = False
    counting: str = "mastodon"  # how the server counts (bot.platforms.mastodon.Mastodon's `counting`)
    fetched_at: datetime = datetime.min.replace(tzinfo=timezone.utc)

    @property
    def markdown_renderer(self) -> str | None:
        """The server's name when it renders post text as Markdown (Hollo), else None."""
        return (self.software or "the server") if self.markdown else None

    def describe(self) -> str:
        """`limit 10000, 256 per URL, 4 images from https://h.example/api/v2/instance (Hollo 0.6)`."""
        parts = [f"limit {self.limit}" if self.limit else "no limit stated"]
        if self.url_length is not None:
            parts.append(f"{self.url_length} per URL")
        if self.media is not None:
            parts.append(f"{self.media.count} image{'s' if self.media.count != 1 else ''} of "
                         f"{self.media.max_bytes / 1_000_000:g} MB")
        software = f" ({self.software})" if self.software else ""
        return f"{', '.join(parts)} from {self.source}{software}"

    def _to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fetched_at"] = self.fetched_at.isoformat()
        return data

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> ServerLimits:
        media = data.get("media")
        return cls(limit=data.get("limit"), url_length=data.get("url_length"),
                   media=MediaLimits(**media) if isinstance(media, dict) else None,
                   source=str(data.get("source") or ""), software=str(data.get("software") or ""),
                   markdown=bool(data.get("markdown")), counting=str(data.get("counting") or "mastodon"),
                   fetched_at=_aware(datetime.fromisoformat(data["fetched_at"])))


@dataclass(frozen=True)
class Resolved:
    """The limits a thread for one account is formatted with, and a line saying where they came from."""

    overrides: dict[str, Any]
    media: MediaLimits | None
    note: str
    server: ServerLimits | None = None
    warning: str | None = None


def resolve(account: Any, server: ServerLimits | None, *, warning: str | None = None,
            limit_flag: int | None = None) -> Resolved:
    """The profile overrides for `account`: a `--limit` flag, else the campaign's explicit
    `limit`/`url_length`, else the server's, else the platform's defaults."""
    settings = account.settings
    overrides: dict[str, Any] = {}
    notes: list[str] = []
    for key in ("limit", "url_length"):
        explicit = settings.get(key)
        stated = getattr(server, key, None) if server is not None else None
        if key == "limit" and limit_flag:
            overrides[key] = limit_flag
            notes.append(f"limit {limit_flag} from --limit")
        elif explicit:
            overrides[key] = explicit
            notes.append(f"{key} {explicit} from the campaign (it wins over the server's"
                         f"{f' {stated}' if stated and stated != explicit else ''})")
        elif stated:
            overrides[key] = stated
    if server is not None and server.counting != "mastodon":
        overrides["counting"] = server.counting
        notes.append(f"it counts {'code points' if server.counting == 'code_points' else 'characters'} "
                     "as written, URLs in full")
    if server is not None:
        notes.append("server: " + server.describe())
    elif warning:
        notes.append(f"server limits unknown ({warning}); the configured ones are used")
    return Resolved(overrides, server.media if server is not None else None, "; ".join(notes), server, warning)


class LiveLimits:
    """Per-account server limits, for every platform whose plug-in can read them (`server_limits`).

    Kept in memory and in `<state_dir>/server-limits.json` (shared by the processes using the
    same store), each entry with the time it was read. `for_account` returns fresh limits, reading
    the server when the kept ones are older than `max_age`; None for a platform that states no
    limits. A server that cannot be read gives None and a warning (logged, and passed to `warn`).
    """

    def __init__(self, state_dir: Path | None, *, session_factory: Callable[[Any], Any] | None = None,
                 timeout: float = 10.0, clock: Callable[[], datetime] | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.path = state_dir / CACHE_FILE if state_dir is not None else None
        self.session_factory = session_factory
        self.timeout = timeout
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._warn = warn
        self._memory: dict[str, ServerLimits] = {}
        self._failed: dict[str, datetime] = {}  # when a server was last found unreachable
        self._lock = threading.Lock()
        self.warnings: dict[str, str] = {}

    def for_account(self, account: Any, *, max_age: timedelta = TTL, shared: bool = True,
                    timeout: float | None = None, fetch: bool = True) -> ServerLimits | None:
        """The account's server limits no older than `max_age`; from the shared file too when
        `shared` (enqueue, preview), else only what this process read itself (before publishing).
        With `fetch=False`, only what is kept: nothing goes over the network.

        Never raises for the server's sake: whatever goes wrong reading it (network, an answer
        that is not instance info, a plug-in's reader failing) is a warning and None; a server
        found unreachable is not asked again for `RECHECK` (one warning, not one per article).
        """
        from bot.platforms import get_plugin

        plugin = get_plugin(account.platform)
        if plugin.server_limits is None:
            return None
        key = _key(account)
        now = self._clock()
        with self._lock:
            known = self._memory.get(key)
            failed_at = self._failed.get(key)
        if shared and (known is None or now - known.fetched_at > max_age):
            kept = self._read_file().get(key)  # another process may have read it since
            if kept is not None and (known is None or kept.fetched_at > known.fetched_at):
                known = kept
        if known is not None and now - known.fetched_at <= max_age:
            return known
        if not fetch or (failed_at is not None and now - failed_at < RECHECK):
            return None
        try:
            read = load_reference(plugin.server_limits, f"platform {plugin.name!r}: server_limits")
            session = self.session_factory(account) if self.session_factory else None
            fetched: ServerLimits = read(dict(account.settings), session=session,
                                          timeout=self.timeout if timeout is None else timeout)
            if not isinstance(fetched, ServerLimits):
                raise ServerUnreachable(f"{plugin.server_limits} did not return ServerLimits")
        except Exception as exc:  # noqa: BLE001 - reading a server's limits must never stop a command
            reason = str(exc) if isinstance(exc, ServerUnreachable) else f"cannot read its limits: {type(exc).__name__}: {exc}"
            message = f"account {account.name}: {reason}"
            with self._lock:
                self._failed[key] = now
                self.warnings[account.name] = reason
            log.warning("%s; the configured limits are used", message)
            if self._warn is not None:
                self._warn(message)
            return None
        fetched = replace(fetched, fetched_at=now)
        with self._lock:
            self._memory[key] = fetched
            self._failed.pop(key, None)
            self.warnings.pop(account.name, None)
            self._write_file(key, fetched)
        return fetched

    def resolve(self, account: Any, *, limit_flag: int | None = None, fetch: bool = True) -> Resolved:
        """`resolve(account, its server limits)`; with `fetch=False` only limits already kept
        (and fresh) are used, so nothing goes over the network."""
        from bot.platforms import get_plugin

        server = self.for_account(account, fetch=fetch)
        if fetch:
            warning = self.warnings.get(account.name)
        elif server is None and get_plugin(account.platform).server_limits is not None:
            warning = "not read in the last hour; preview --account asks the server"
        else:
            warning = None
        return resolve(account, server, warning=warning, limit_flag=limit_flag)

    def _read_file(self) -> dict[str, ServerLimits]:
        if self.path is None:
            return {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # no file yet, or a damaged one: read the servers again
        kept: dict[str, ServerLimits] = {}
        for key, entry in raw.items() if isinstance(raw, dict) else ():
            try:
                kept[key] = ServerLimits._from_json(entry)
            except (AttributeError, ValueError, TypeError, KeyError):
                continue  # an entry another version wrote, or a damaged one: that server is read again
        return kept

    def _write_file(self, key: str, limits: ServerLimits) -> None:
        """Add one entry to the shared file (called under `_lock`; between processes the last
        writer wins, which costs at most one more read of a server)."""
        if self.path is None:
            return
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            kept = {k: v._to_json() for k, v in self._read_file().items()}
            kept[key] = limits._to_json()
            handle, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".server-limits.", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(kept, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:  # a read-only state directory: the limits are still used, not kept
            log.debug("cannot keep server limits in %s: %s", self.path, exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _key(account: Any) -> str:
    """One entry per account and server: a campaign that moves the account elsewhere reads again."""
    where = {k: str(v) for k, v in sorted(account.settings.items()) if k in ("instance", "service", "api_base")}
    return json.dumps([account.name, account.platform, where])


def check_fits(posts: list[tuple[int, str, str | None]], platform: Any) -> str | None:
    """The first post of (index, text, content warning) that `platform` no longer takes, said in
    one line; None when every one fits."""
    from bot.editing import count_post

    for index, text, cw in posts:
        counted = count_post(platform, text, cw)
        if not counted.fits:
            return f"post {index} is {counted.length} characters and the server now allows {counted.limit}"
    return None


__all__ = ["CACHE_FILE", "RECHECK", "TTL", "LiveLimits", "Resolved", "ServerLimits",
           "ServerUnreachable", "check_fits", "resolve"]
