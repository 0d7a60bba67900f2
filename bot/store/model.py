"""The values the queue store takes and returns: states, items, posts, outcomes and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from bot.errors import CrieurError


class StoreError(CrieurError):
    """A store operation that cannot be done; the message is one line meant for the user."""


class NoSuchItem(StoreError):
    """The item id names no item (`no item 12`); a user mistake, so exit code 2."""

    exit_code = 2


class InvalidTransition(StoreError):
    """The item's state does not allow the operation (`item 12 is published; it cannot be cancelled`).

    Asked for by the user on the command line, so exit code 2 (bad input).
    """

    exit_code = 2


class EditConflict(StoreError):
    """The item changed since the caller read it (another editor, the daemon): nothing was written.

    The message says what changed; the caller should reload and redo the edit. Exit code 2.
    """

    exit_code = 2


class ReviewRefused(StoreError):
    """A person's request the store cannot take as given (no name, no reason, a missed slot without
    a rule to follow); a user mistake, so exit code 2."""

    exit_code = 2


class LeaseLost(StoreError):
    """The caller no longer holds the item's lease: another holder took it, or it was released."""


class StoreUnavailable(StoreError):
    """The store cannot be used right now: unreachable, locked, read-only, full, timed out.

    A fault of the store, never of the platform or the thread: the daemon backs off and
    reconnects; nothing is counted against the item. `cause` is the database's one-line reason
    (never SQL or its parameters); `transient` is False for a fault a person must fix (a
    read-only file, a full disk) — retrying still makes sense once they do.
    """

    def __init__(self, message: str, cause: str = "", *, deadlock: bool = False) -> None:
        super().__init__(message)
        self.cause = cause or message
        self.deadlock = deadlock


class StoreGone(StoreError):
    """The store itself is gone: its SQLite file or directory was removed or replaced."""


class SchemaTooNew(StoreError):
    """The store was written by a newer Crieur whose schema this one does not know."""


class ItemState(StrEnum):
    """The life of a queue item: scheduled → publishing → published, or failed/cancelled/needs_review.

    With `review: required`, a thread starts `awaiting_review` and becomes scheduled only when a
    person approves it (or `rejected` when they refuse it); it is never claimed before.
    """

    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NEEDS_REVIEW = "needs_review"
    AWAITING_REVIEW = "awaiting_review"
    REJECTED = "rejected"


class PostState(StrEnum):
    """One post of a thread: not sent yet, sent (remote id known), or sent-or-not is undecided."""

    PENDING = "pending"
    POSTED = "posted"
    UNKNOWN = "unknown"



class Schedule(Protocol):
    """Anything that yields posting slots (a campaign's schedule, a test's every-hour clock)."""

    def next_slot(self, after: datetime) -> datetime:
        """The first slot strictly after `after` (aware UTC in, aware UTC out)."""
        ...


@dataclass(frozen=True)
class NewItem:
    """A formatted thread to enqueue: its identity, its posts' texts and publishing options."""

    campaign: str
    account: str
    platform: str
    source: str  # path, URL or feed entry id: with campaign and account, the article's identity
    content_hash: str
    title: str
    posts: list[str]
    media: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    lang: str | None = None


@dataclass(frozen=True)
class PostRow:
    """One stored post: `index` is 1-based; `remote_id` is an opaque string once posted."""

    index: int
    text: str
    state: PostState
    remote_id: str | None
    url: str | None
    posted_at: datetime | None
    idempotency_key: str
    #: when the post first may have gone out (it was in doubt); None if it never was
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Item:
    """One thread for one account, as stored. All datetimes are aware UTC.

    `due_at` is when it should go out; `slot_at` is the schedule slot it occupies (None for an
    explicit `at`, after a reschedule, or once cancelled); `attempts` counts failed publish
    attempts since it was enqueued or last retried; `next_attempt_at` is the earliest time the
    next attempt may start (equal to `due_at` until a failure pushes it back).
    """

    id: int
    campaign: str
    account: str
    platform: str
    source: str
    content_hash: str
    title: str
    state: ItemState
    due_at: datetime
    slot_at: datetime | None
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    posts: list[PostRow]
    lang: str | None = None
    media: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    lease_holder: str | None = None
    lease_expires_at: datetime | None = None
    # Grows with every change a person makes (edit, approve, reject, reschedule…) and with every
    # re-format: a form carries the version it was read at, so a stale one is refused, not applied.
    version: int = 0

    @property
    def review_required(self) -> bool:
        """True when a person must approve the thread (and every edit of it) before it goes out."""
        return (self.options or {}).get("review") == "required"

    @property
    def next_post(self) -> PostRow | None:
        """The first post not posted yet (pending or unknown), or None when all are posted."""
        return next((p for p in self.posts if p.state != PostState.POSTED), None)

    @property
    def posted_count(self) -> int:
        """How many posts of the thread are on the platform."""
        return sum(1 for p in self.posts if p.state == PostState.POSTED)


EnqueueAction = Literal["queued", "duplicate", "reformatted", "already_published", "cancelled"]


@dataclass(frozen=True)
class EnqueueOutcome:
    """What `Store.enqueue` did: the action, the item concerned, and a sentence saying so."""

    action: EnqueueAction
    item: Item
    message: str


@dataclass(frozen=True)
class AccountState:
    """An account's shared publishing state: pause (None until = until resumed) and rate limits."""

    account: str
    paused_until: datetime | None = None
    pause_reason: str | None = None
    rate_limit: dict[str, str] = field(default_factory=dict)
    rate_limit_at: datetime | None = None

    def is_paused(self, now: datetime) -> bool:
        """True when publishing for this account must wait at `now`."""
        return self.pause_reason is not None and (self.paused_until is None or self.paused_until > now)


@dataclass(frozen=True)
class Attempt:
    """One row of an item's publishing history (`crieur queue show` prints these)."""

    id: int
    item_id: int
    account: str
    at: datetime
    post_index: int | None
    outcome: str  # posted, retry, failed, needs_review, unknown, resolved, … (free-form, lower-case)
    message: str | None
    remote_id: str | None
