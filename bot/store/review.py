"""A person's say over a thread before it goes out: approve, reject, and edit its unpublished posts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from bot.store.items import ItemsMixin
from bot.store.model import (
    InvalidTransition,
    Item,
    ItemState,
    PostState,
    ReviewRefused,
    Schedule,
)
from bot.store.publishing import PublishingMixin
from bot.store.schema import items, posts
from bot.store.states import EDITABLE_STATES, Actor, moved_values


class ReviewMixin(ItemsMixin, PublishingMixin):
    """Approval, rejection and edits, each one transaction that also writes the item's history."""

    def approve(
        self,
        item_id: int,
        by: str,
        *,
        grace: timedelta,
        schedule: Schedule | None = None,
        at_once: bool = False,
        expected_version: int | None = None,
        now: datetime | None = None,
    ) -> Item:
        """A person (`by`) approves a thread awaiting review: it becomes scheduled.

        Its slot still to come: it goes out on it. Its slot passed: within `grace` (or with
        `at_once`) it is due at once; past grace it takes its account's next free slot of
        `schedule` (StoreError when no schedule is given: say --now or give the campaign).
        The history gets an "approved" row naming `by`. InvalidTransition unless the item awaits
        review; EditConflict when `expected_version` is stale (the text changed since it was read:
        nobody approves a text they did not see).
        """
        now = self._now(now)
        by = _person(by)
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            self._check_version(row, expected_version)
            moved_values("approve", row, Actor.USER, now)  # the state check comes first
            values: dict[str, Any] = dict(
                version=items.c.version + 1, last_error=None, attempts=0, next_attempt_at=row.due_at,
            )
            note = f"by {by}"
            if row.due_at >= now:
                pass  # goes out on its slot
            elif at_once or now - row.due_at <= grace:
                values.update(due_at=now, next_attempt_at=now)
                note += " (after its slot: due at once)"
            elif schedule is None:
                raise ReviewRefused(
                    f"item {item_id}'s slot passed more than its grace ago; approve it to go now "
                    "(--now) or let it take the account's next free slot (give its campaign)"
                )
            else:
                cursor = self._lock_account_cursor(conn, row.account)
                conn.execute(update(items).where(items.c.id == item_id).values(slot_at=None))
                slot = self._take_slot(conn, row.account, schedule, now, cursor)
                values.update(due_at=slot, slot_at=slot, next_attempt_at=slot)
                note += f" (slot missed by more than grace: moved to {slot:%Y-%m-%d %H:%M} UTC)"
            self._move(conn, row, "approve", Actor.USER, now, **values)
            self._history(conn, row, now, "approved", note)
            return self._item_by_id(conn, item_id)

    def reject(
        self,
        item_id: int,
        by: str,
        reason: str,
        *,
        expected_version: int | None = None,
        now: datetime | None = None,
    ) -> Item:
        """A person refuses a thread that is awaiting review or scheduled with nothing posted: it
        becomes rejected (never published), its future slot is freed, and the reason is kept as
        its last error and in the history. InvalidTransition in any other case."""
        now = self._now(now)
        by = _person(by)
        reason = " ".join((reason or "").split())
        if not reason:
            raise ReviewRefused("a rejection needs a reason (--reason)")
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            self._check_version(row, expected_version)
            moved_values("reject", row, Actor.USER, now)  # the state check comes first
            if self._posted_indexes(conn, item_id):
                raise InvalidTransition(
                    f"item {item_id} is partly published; it cannot be rejected (cancel it to stop the rest)"
                )
            self._free_slot(conn, row, now)
            self._move(conn, row, "reject", Actor.USER, now, slot_at=None, last_error=f"rejected by {by}: {reason}",
                       version=items.c.version + 1)
            self._history(conn, row, now, "rejected", f"by {by}: {reason}")
            return self._item_by_id(conn, item_id)

    def edit_posts(
        self,
        item_id: int,
        texts: Sequence[str],
        *,
        by: str,
        expected_version: int | None,
        what: str = "edited",
        now: datetime | None = None,
    ) -> Item:
        """Replace the thread's posts by `texts` (the whole thread, in order), as a person edited it.

        The caller has already counted every text (bot.editing); the store enforces what must
        never happen whatever the caller: a posted post keeps its text and its place; in a thread
        with a post out, the number of posts stays (readers have seen `3/7`); nothing changes
        while a post's outcome is unknown or the thread is being published. Changed posts get new
        idempotency keys. The history
        gets an "edited" row (`what`, by whom). EditConflict when `expected_version` is stale.
        A thread that needs review (scheduled, failed or needs_review) goes back to awaiting review.
        """
        now = self._now(now)
        by = _person(by)
        texts = list(texts)
        if not texts or any(not t.strip() for t in texts):
            raise ReviewRefused(f"item {item_id}: a thread needs at least one post and no post may be empty")
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            self._check_version(row, expected_version)
            state = ItemState(row.state)
            if state not in EDITABLE_STATES:
                what_it_is = "being published" if state == ItemState.PUBLISHING else state.value
                raise InvalidTransition(f"item {item_id} is {what_it_is}; its posts cannot be edited")
            self._refuse_unknown(conn, item_id)
            current = conn.execute(
                select(posts).where(posts.c.item_id == item_id).order_by(posts.c.idx)
            ).all()
            posted = [p for p in current if p.state == PostState.POSTED]
            if posted and len(texts) != len(current):
                raise InvalidTransition(
                    f"item {item_id} is partly published ({len(posted)} of {len(current)} posts out): "
                    "posts cannot be split or joined, only the text of the unpublished ones changed"
                )
            for p in posted:
                if p.idx > len(texts) or texts[p.idx - 1] != p.text:
                    raise InvalidTransition(f"item {item_id} post {p.idx} is published; it cannot be edited")
            if len(texts) == len(current):
                changed = [p.idx for p in current if p.state != PostState.POSTED and texts[p.idx - 1] != p.text]
                for idx in changed:
                    conn.execute(
                        update(posts)
                        .where(posts.c.item_id == item_id, posts.c.idx == idx)
                        .values(text=texts[idx - 1], idempotency_key=uuid.uuid4().hex, sent_at=None)
                    )
            else:
                changed = list(range(1, len(texts) + 1))
                conn.execute(delete(posts).where(posts.c.item_id == item_id))
                self._insert_posts(conn, item_id, texts)
            if (row.options or {}).get("review") == "required" and state != ItemState.AWAITING_REVIEW:
                # An approval covers the text that was approved, not this one (a failed thread too:
                # a retry must not send unapproved text).
                self._move(conn, row, "send_back", Actor.USER, now, version=items.c.version + 1)
            else:  # the same state: no move, only the new version
                conn.execute(update(items).where(items.c.id == item_id)
                             .values(updated_at=now, version=items.c.version + 1))
            summary = f"by {by}" if what == "edited" else f"{what} by {by}"  # (the outcome says "edited")
            if len(texts) != len(current):
                summary += f" ({len(current)} → {len(texts)} posts)"
            elif changed:
                summary += " (post" + ("s " if len(changed) > 1 else " ") + ", ".join(map(str, changed)) + ")"
            self._history(conn, row, now, "edited", summary)
            return self._item_by_id(conn, item_id)

    @staticmethod
    def _posted_indexes(conn: Any, item_id: int) -> list[int]:
        return list(
            conn.execute(
                select(posts.c.idx).where(posts.c.item_id == item_id, posts.c.state == PostState.POSTED)
            ).scalars()
        )


def _person(name: str) -> str:
    """The reviewer's name as recorded: one line, not empty (StoreError otherwise)."""
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ReviewRefused("say who you are: a reviewer's name is needed (--by NAME)")
    if len(cleaned) > 100:
        raise ReviewRefused("a reviewer's name is at most 100 characters")
    return cleaned
