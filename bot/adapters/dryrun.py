"""DryRunAdapter: publishes nothing; writes each post it would publish to a JSON-lines file and the log."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.adapters.base import Adapter, OutgoingPost, RemoteRef

log = logging.getLogger(__name__)

DEFAULT_PATH = "queue/dryrun.jsonl"


def fake_id(idempotency_key: str) -> str:
    """A stable fake remote id: the same post gets the same id on every run."""
    return "dryrun-" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:16]


class DryRunAdapter(Adapter):
    """Posts nothing: appends one JSON object per post to `settings["path"]` (default
    queue/dryrun.jsonl) with its text, reply target, idempotency key, fake id and time.

    Ids are derived from the idempotency key, so a whole thread flows and a rerun is idempotent.
    """

    name = "dryrun"
    idempotent = True

    def __init__(self, path: Path, latency: float = 0.0) -> None:
        self.path = path
        self.latency = latency  # seconds each publish/upload waits, as a real platform's answer would
        self._lock = threading.Lock()
        # (idempotency key, reply target) -> fake id of every post in the file, read
        # incrementally: only the bytes appended since the last look (by any process) are parsed,
        # so a long run stays linear instead of re-reading the whole file for every post.
        self._known: dict[tuple[str, str | None], str] = {}
        self._offset = 0

    @classmethod
    def from_account(cls, settings: dict[str, Any], credentials: dict[str, str], *,
                     session: Any = None, timeout: float = 10.0,
                     state_dir: Path | None = None) -> DryRunAdapter:
        latency = settings.get("latency")
        seconds = latency.total_seconds() if isinstance(latency, timedelta) else float(latency or 0)
        return cls(Path(settings.get("path") or DEFAULT_PATH), latency=seconds)

    def publish(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef:
        if self.latency:
            time.sleep(self.latency)
        ref = RemoteRef(fake_id(post.idempotency_key), None)
        existing = self.find_existing(post, reply_to)
        if existing is not None:
            return existing  # same key published before: one entry per post, like a real platform
        entry = {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "id": ref.id,
            "idempotency_key": post.idempotency_key,
            "reply_to": reply_to.id if reply_to else None,
            "text": post.text,
            "media_ids": list(post.media_ids),
            "lang": post.lang,
            "spoiler_text": post.spoiler_text,
            "visibility": post.visibility,
        }
        self._append(entry)
        media = getattr(self, "_uploaded", {})
        shown = "".join(f" [media {media.get(m, (m, ''))[0]} (alt: {media.get(m, ('', ''))[1] or 'none'})]"
                        for m in post.media_ids)
        log.info("dry run: would post %s (reply to %s, lang %s)%s: %s", ref.id, entry["reply_to"] or "-",
                 post.lang or "-", shown, post.text)
        return ref

    def upload_media(self, path: Path, alt: str) -> str:
        path = Path(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        media_id = f"dryrun-media-{digest}"
        self._append({"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      "media_id": media_id, "path": str(path), "alt": alt})
        log.info("dry run: would upload %s (alt: %s)", path, alt)
        if not hasattr(self, "_uploaded"):
            self._uploaded: dict[str, tuple[str, str]] = {}
        self._uploaded[media_id] = (path.name, alt)  # the post's log line names its media
        return media_id

    def verify(self) -> str:
        return "dryrun"

    def find_existing(self, post: OutgoingPost, reply_to: RemoteRef | None = None) -> RemoteRef | None:
        target = reply_to.id if reply_to else None
        with self._lock:
            self._catch_up()
            found = self._known.get((post.idempotency_key, target))
        return RemoteRef(found, None) if found else None

    def _catch_up(self) -> None:
        """Index the lines appended to the file since the last call (caller holds the lock)."""
        try:
            with self.path.open("rb") as fh:
                if os.fstat(fh.fileno()).st_size < self._offset:  # truncated or replaced: start over
                    self._known.clear()
                    self._offset = 0
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        complete = chunk.rfind(b"\n") + 1  # a line still being written by another process waits
        for line in chunk[:complete].splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if "idempotency_key" in row:
                self._known[(row["idempotency_key"], row.get("reply_to"))] = row["id"]
        self._offset += complete

    def entries(self) -> list[dict[str, Any]]:
        """Every post written so far (media lines excluded)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        return [row for row in rows if "idempotency_key" in row]

    def _append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
