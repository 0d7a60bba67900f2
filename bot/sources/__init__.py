"""Where a campaign's articles come from: explicit files, a folder inbox, an RSS/Atom feed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.errors import CrieurError
from bot.sources.base import PollResult, SeenStore, SourceArticle, SourceError, logger, path_identity
from bot.sources.feed import FeedSource
from bot.sources.files import FileSource
from bot.sources.folder import FolderInbox

__all__ = [
    "FeedSource", "FileSource", "FolderInbox", "PollResult", "SeenStore", "SourceArticle",
    "FILES_SOURCE_KEY", "SourceError", "campaign_articles", "path_identity",
]


# The seen-set key of the `files:` globs (entry ids are the files' resolved paths).
FILES_SOURCE_KEY = "files"


def campaign_articles(campaign: Any, store: SeenStore, *, commit: bool = True,
                      now: datetime | None = None, new_files_only: bool = False) -> PollResult:
    """Every article a campaign's `sources` have now: its files, then its inbox, then its feed.

    `campaign` needs `name`, `lang`, `path` (the YAML file; relative paths start from its
    folder) and `sources` with optional `files` (globs), `folder`, `feed` (a URL, or an object
    with `url` and optional `backfill`, `timeout`), `backfill`, `settle`. Files are yielded every
    time (the queue says "already queued") unless `new_files_only` (the daemon's polling: a file
    newly matching a glob is picked up, one already enqueued — for the accounts a person chose
    — is not); either way the files yielded are recorded as seen on commit. The inbox and the
    feed yield what they have not yielded before.

    A bad inbox file or an unreachable feed does not stop the others: it is logged and put in
    `.errors` (the caller should report them and exit 1). A bad file named in `files` raises.

    :param commit: False writes nothing to the store (a dry run, or enqueue first and call
        `.commit()` after, so that a crash in between loses nothing).
    :raises BadInput: a file named by `sources.files` is missing or not a valid article.
    """
    sources = getattr(campaign, "sources", None)
    if sources is None:
        return PollResult()
    base_dir = Path(campaign.path).parent if getattr(campaign, "path", None) else Path.cwd()
    lang = getattr(campaign, "lang", None)
    items: list[SourceArticle] = []
    errors: list[CrieurError] = []
    commits: list[PollResult] = []

    if getattr(sources, "files", None):
        source = FileSource(list(sources.files), base_dir)
        paths = source.paths()
        if new_files_only:
            paths = [p for p in paths if not store.seen(campaign.name, FILES_SOURCE_KEY, str(p))]
        files = source.articles(default_lang=lang, paths=paths)
        items += files
        def record_files(files: list[SourceArticle] = files) -> None:
            if files:
                store.mark_seen(campaign.name, FILES_SOURCE_KEY, [a.source for a in files])

        commits.append(PollResult(files, (), record_files))

    folder = getattr(sources, "folder", None)
    if folder:
        settle = getattr(sources, "settle", None) or timedelta(seconds=2)
        inbox = FolderInbox(base_dir / Path(folder).expanduser(), campaign.name, store, settle=settle)
        polled = inbox.poll(now=now, default_lang=lang, commit=False)
        items += polled
        errors += polled.errors
        commits.append(polled)

    feed = getattr(sources, "feed", None)
    if feed:
        # The campaign model gives a URL (pydantic's HttpUrl is not a str) or a `{url, …}` section.
        url = str(feed if isinstance(feed, str) or not hasattr(feed, "backfill") else feed.url)
        backfill = getattr(feed, "backfill", None) or getattr(sources, "backfill", 0) or 0
        timeout = getattr(feed, "timeout", None) or 10.0
        try:
            polled = FeedSource(url, campaign.name, store, backfill=backfill, timeout=timeout).poll(
                default_lang=lang, commit=False)
        except SourceError as exc:
            logger.warning("%s", exc)
            errors.append(exc)
        else:
            items += polled
            commits.append(polled)

    def record() -> None:
        for polled in commits:
            polled.commit()

    result = PollResult(items, errors, record)
    if commit:
        result.commit()
    return result
