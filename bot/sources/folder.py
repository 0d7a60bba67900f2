"""`FolderInbox`: articles dropped into a folder, picked up once they are completely written."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.article import load_article
from bot.errors import BadInput
from bot.sources.base import PollResult, SeenStore, SourceArticle, logger, path_identity

# Editors, downloaders and copy tools write under these names and rename when done.
TEMP_SUFFIXES = (
    "~", ".tmp", ".temp", ".part", ".partial", ".crdownload", ".download",
    ".swp", ".swo", ".swx", ".bak", ".lock",
)
# An article's media sit beside it; they are attachments, not articles to report as unreadable.
MEDIA_SUFFIXES = (
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".heic", ".svg",
    ".mp4", ".mov", ".webm", ".m4v", ".mp3", ".m4a", ".ogg", ".wav",
)


def is_candidate_name(name: str) -> bool:
    """Whether a file name in the inbox may be an article (not a dotfile, temp file or media file)."""
    lowered = name.lower()
    if name.startswith((".", "~$")) or (name.startswith("#") and name.endswith("#")):
        return False  # dotfiles, editor locks (.#x, ~$x.docx), Emacs autosaves (#x#)
    return not lowered.endswith(TEMP_SUFFIXES + MEDIA_SUFFIXES)


class FolderInbox:
    """A folder whose new files become articles.

    A file is taken when it is settled: two polls saw the same size and mtime, and its mtime
    is at least `settle` old, so a file still being written (or copied, or stalled mid-upload)
    is left for a later poll. The store remembers each taken file by name and content hash: a
    file is yielded once, and again only after its content changes (the queue then re-formats
    it in place, or ignores it if already published). Files are never moved or deleted.

    Skipped: subdirectories, dotfiles, temp files (`~`, `.tmp`, `.part`, `.swp`, …) and media
    files (images and videos an article attaches).
    """

    def __init__(self, folder: Path, campaign: str, store: SeenStore,
                 settle: timedelta = timedelta(seconds=2)) -> None:
        self.folder = Path(folder)
        self.campaign = campaign
        self.store = store
        self.settle = settle
        self.source_key = "folder:" + path_identity(self.folder)

    def poll(self, now: datetime | None = None, default_lang: str | None = None, *,
             commit: bool = True) -> PollResult:
        """Take the settled files not taken before, in name order.

        :param now: the current time (aware, or naive local); defaults to the clock.
        :param commit: record what was taken (and the sizes of files still settling) in the
            store; with False, nothing is written and `PollResult.commit()` does it later.
        :returns: the articles (a list); unreadable files are in `.errors` as `BadInput`, each
            logged as a warning, and are not retried until they change.
        :raises BadInput: the inbox folder does not exist or is not a folder.
        """
        if not self.folder.is_dir():
            raise BadInput(f"{self.folder}: inbox folder does not exist (sources.folder)")
        now_ts = (now or datetime.now(timezone.utc)).timestamp()
        state = self.store.source_state(self.campaign, self.source_key)
        # pending: name -> [size, mtime_ns] seen by the last poll, not yet settled.
        # taken: name -> [size, mtime_ns] of the version taken, so that unchanged files are
        # skipped without being read and hashed on every poll.
        pending: dict[str, list[int]] = state.get("pending", {})
        taken: dict[str, list[int]] = state.get("taken", {})
        new_pending: dict[str, list[int]] = {}
        new_taken: dict[str, list[int]] = {}
        articles: list[SourceArticle] = []
        errors: list[BadInput] = []
        seen_ids: list[str] = []

        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            if not is_candidate_name(entry.name):
                continue
            try:
                if not entry.is_file():  # follows symlinks; directories, sockets, fifos are skipped
                    continue
                st = entry.stat()
            except OSError:  # vanished or unreadable between listing and stat
                continue
            signature = [st.st_size, st.st_mtime_ns]
            if taken.get(entry.name) == signature:
                new_taken[entry.name] = signature
                continue
            settled = (pending.get(entry.name) == signature
                       and now_ts - st.st_mtime_ns / 1e9 >= self.settle.total_seconds())
            if not settled:
                new_pending[entry.name] = signature
                continue
            try:
                entry_id = f"{entry.name}#{_file_sha256(entry.path)}"
            except OSError:
                new_pending[entry.name] = signature  # e.g. removed meanwhile: look again next poll
                continue
            new_taken[entry.name] = signature
            if self.store.seen(self.campaign, self.source_key, entry_id):
                continue  # touched, or renamed back, but the content was already taken
            seen_ids.append(entry_id)
            try:
                article = load_article(entry.path, default_lang=default_lang)
            except BadInput as exc:
                logger.warning("inbox: skipping %s", exc)
                errors.append(exc)
                continue
            articles.append(SourceArticle(path_identity(entry.path), article))

        # Files that disappeared drop out of both maps, so the state stays the size of the folder.
        new_state: dict[str, Any] = {**state, "pending": new_pending, "taken": new_taken}

        def record() -> None:
            # Seen ids first: if we die between the two writes, the next poll re-hashes the
            # files, finds them seen, and yields nothing twice.
            if seen_ids:
                self.store.mark_seen(self.campaign, self.source_key, seen_ids)
            if new_state != state:
                self.store.set_source_state(self.campaign, self.source_key, new_state)

        result = PollResult(articles, errors, record)
        if commit:
            result.commit()
        return result


def _file_sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
