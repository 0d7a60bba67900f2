"""What every article source shares: the yielded item, the seen-set interface, the error, the poll result."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bot.article import Article
from bot.errors import CrieurError

logger = logging.getLogger("bot.sources")


class SourceError(CrieurError):
    """A source could not be read: network error, timeout, HTTP error or malformed feed (exit code 1).

    The message names the source (a feed URL, credentials redacted) and the reason.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class SourceArticle:
    """One article taken from a source.

    `source` is the article's identity within its campaign, as the queue stores it: the
    resolved absolute path of a file (see `path_identity`), or a feed entry's id (else its link).
    """

    source: str
    article: Article


@runtime_checkable
class SeenStore(Protocol):
    """The part of the queue store that sources use to remember what they already yielded.

    `source_key` names one source of one campaign (`folder:/abs/inbox`, `feed:https://…`);
    `entry_id` is opaque to the store. `source_state` is a small JSON-able dict a source keeps
    between polls (ETag, sizes of files still settling); it is `{}` before the first
    `set_source_state`.
    """

    def seen(self, campaign: str, source_key: str, entry_id: str) -> bool:
        """Whether `entry_id` was marked seen for this campaign and source."""
        ...

    def mark_seen(self, campaign: str, source_key: str, entry_ids: Iterable[str]) -> object:
        """Remember every id in `entry_ids` (idempotent)."""
        ...

    def source_state(self, campaign: str, source_key: str) -> dict[str, Any]:
        """The state last saved for this source, or `{}`."""
        ...

    def set_source_state(self, campaign: str, source_key: str, state: dict[str, Any]) -> None:
        """Replace the saved state of this source."""
        ...


class PollResult(list[SourceArticle]):
    """The articles one poll yielded (a list), plus the files it could not read and a deferred commit.

    `errors` holds what was reported instead of raised, each also logged as a warning: a
    `BadInput` per unreadable inbox file, a `SourceError` for a feed `campaign_articles` could
    not read. `commit()` records in the store what this poll saw (seen ids, source
    state). `poll(commit=True)`, the default, has already called it; `poll(commit=False)`
    writes nothing, so that a caller can enqueue first and commit after (at-least-once: a crash
    in between yields the articles again, and the queue ignores an article it already holds),
    or not at all (a dry run).
    """

    def __init__(self, items: Iterable[SourceArticle] = (), errors: Iterable[CrieurError] = (),
                 commit: Callable[[], None] | None = None) -> None:
        super().__init__(items)
        self.errors: list[CrieurError] = list(errors)
        self._commit = commit

    def commit(self) -> None:
        """Record this poll in the store; calling it again does nothing."""
        if self._commit is not None:
            action, self._commit = self._commit, None
            action()


def path_identity(path: str | Path) -> str:
    """The identity of an article file: its absolute path with symlinks resolved, as a string.

    The CLI should use this for `crieur enqueue CAMPAIGN FILE` too, so that the same file named
    on the command line and found by a source is one article for the queue.
    """
    return str(Path(path).expanduser().resolve())
