"""Putting threads in the queue and managing them by hand: enqueue, list, show, cancel, retry, reschedule."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.base import StoreBase, as_utc
from bot.store.model import (
    EditConflict,
    EnqueueOutcome,
    InvalidTransition,
    Item,
    ItemState,
    NewItem,
    PostRow,
    PostState,
    Schedule,
    StoreError,
    StoreUnavailable,
)
from bot.store.schema import free_slots, items, posts, slot_cursors
from bot.store.states import Actor, moved_values, state_columns


# How many times a batch that lost a deadlock (PostgreSQL chose it as the victim) runs again.
_DEADLOCK_RETRIES = 3


class _Rollback(Exception):
    """Raised inside a dry-run enqueue to undo it, carrying what it would have done."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome


def _offset(schedule: Any) -> timedelta:
    """The account offset a schedule applies (AccountSchedule says it; others have none)."""
    return getattr(schedule, "offset", None) or timedelta(0)


class ItemsMixin(StoreBase):
    """Enqueueing and the user's commands on items."""

    def enqueue(
        self,
        new: NewItem,
        *,
        schedule: Schedule | None = None,
        at: datetime | None = None,
        now: datetime | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> EnqueueOutcome:
        """Queue `new` for its account, or say why not; atomic, safe with concurrent enqueuers.

        The article's identity is (campaign, account, source); the latest item of that identity
        decides:
        - none → "queued": a new item.
        - cancelled (by a person) → "cancelled": nothing changes — a cancel sticks — unless
          `force`, which queues a new item.
        - scheduled, nothing posted yet: same content hash → "duplicate" (nothing changes) unless
          `force`; otherwise → "reformatted": posts replaced in place, slot kept (moved to `at`
          and the slot freed if `at` is given).
        - publishing, published, or partly posted → "already_published" (nothing changes) unless
          `force`, which queues a new item.
        - failed or needs_review, nothing posted: same hash → "duplicate" (retry it instead) unless
          `force`; otherwise the old item is cancelled and a new one "queued" in its place.
        A new item is due at `at` when given (it then holds no schedule slot); otherwise it takes
        a freed future slot of its account if one is still a slot of `schedule`, else the next
        slot of `schedule` after max(now, the account's cursor), and the cursor moves there.
        `dry_run` does all of it in a transaction that is rolled back: the outcome says what
        would happen (a would-be new item's id may be reused later).
        Raises StoreError for a thread without posts, or when neither `schedule` nor `at` is given.
        """
        return self.enqueue_many([(new, schedule)], at=at, now=now, force=force, dry_run=dry_run)[0]

    def enqueue_many(
        self,
        batch: Sequence[tuple[NewItem, Schedule | None]],
        *,
        at: datetime | None = None,
        now: datetime | None = None,
        force: bool = False,
        dry_run: bool = False,
        together: timedelta | None = None,
    ) -> list[EnqueueOutcome]:
        """`enqueue` each (item, its account's schedule) in order, in ONE transaction.

        All or nothing: an error leaves the queue as it was. With `dry_run` every step sees the
        ones before it (slots taken, cursors moved, ids given) and then it is all rolled back, so
        the outcomes say exactly what a real run would do.

        `together` (a tolerance; None: off), when no `at` is given: the items of one source (one
        article on several accounts) take slots within `together` of the latest of their accounts'
        next free slots, compared without the accounts' offsets (each still posts at its offset).
        Slots an account skips for that are freed for its next enqueues.
        """
        for new, schedule in batch:
            if not new.posts:
                raise StoreError(f"nothing to enqueue for {new.source}: the thread has no posts")
            if at is None and schedule is None:
                raise StoreError("enqueue needs a schedule or an explicit time (--at)")
        now = self._now(now)
        at = as_utc(at, "at") if at is not None else None
        for attempt in range(_DEADLOCK_RETRIES + 1):
            try:
                with self._write() as conn:
                    # Every account's row is locked up front, in one global order (by name): two
                    # batches sharing accounts then queue on the first shared one instead of each
                    # holding one the other waits for (a deadlock on PostgreSQL).
                    for account in sorted({new.account for new, _ in batch}):
                        self._lock_account_cursor(conn, account)
                    floors = (self._together_floors(conn, batch, now, together)
                              if together is not None and at is None else {})
                    outcomes = [self._enqueue(conn, new, schedule, at, now, force, floors.get(i))
                                for i, (new, schedule) in enumerate(batch)]
                    if dry_run:
                        raise _Rollback(outcomes)
            except _Rollback as rolled_back:
                return list(rolled_back.outcome)
            except StoreUnavailable as fault:
                # Should one still happen (a lock taken elsewhere), the whole batch runs again.
                if not fault.deadlock or attempt == _DEADLOCK_RETRIES:
                    raise
                time.sleep(0.05 * (attempt + 1))
                continue
            return outcomes
        raise StoreError("enqueue: the store kept choosing this batch as a deadlock victim")

    def _enqueue(
        self,
        conn: Connection,
        new: NewItem,
        schedule: Schedule | None,
        at: datetime | None,
        now: datetime,
        force: bool,
        not_before: datetime | None = None,
    ) -> EnqueueOutcome:
        cursor = self._lock_account_cursor(conn, new.account)
        touched_col = (
            exists()
            .where(posts.c.item_id == items.c.id, posts.c.state != PostState.PENDING)
            .label("touched")
        )
        existing = conn.execute(
            select(items, touched_col)
            .where(
                items.c.campaign == new.campaign,
                items.c.account == new.account,
                items.c.source == new.source,
            )
            .order_by(items.c.id.desc())
            .limit(1)
        ).first()
        replaced: int | None = None
        if existing is not None and existing.state == ItemState.CANCELLED and not force:
            # A person cancelled it: a poll of the sources (or a second enqueue) must not undo that.
            return EnqueueOutcome(
                "cancelled",
                self._item_by_id(conn, existing.id),
                f"{new.source} was cancelled for {new.account} as item {existing.id}; not queuing it again "
                "(use --force to queue it anyway)",
            )
        if existing is not None and existing.state == ItemState.CANCELLED:
            existing = None  # forced: a new item, as if the article were new
        if existing is not None:
            state = ItemState(existing.state)
            same = existing.content_hash == new.content_hash
            if state in (ItemState.PUBLISHING, ItemState.PUBLISHED) or existing.touched:
                if not force:
                    how = "published" if state == ItemState.PUBLISHED else "being published (partly posted)"
                    return EnqueueOutcome(
                        "already_published",
                        self._item_by_id(conn, existing.id),
                        f"{new.source} is already {how} for {new.account} as item {existing.id}; "
                        "not posting it again (use --force to post it again)",
                    )
            elif state == ItemState.REJECTED:
                if same and not force:
                    return EnqueueOutcome(
                        "duplicate",
                        self._item_by_id(conn, existing.id),
                        f"{new.source} was rejected for {new.account} as item {existing.id}; nothing "
                        "changed (edit the article, or use --force to queue it again)",
                    )
                # A changed article is a new thread: queued below; the rejected item stays as it was.
            elif state in (ItemState.SCHEDULED, ItemState.AWAITING_REVIEW):
                if same and not force:
                    return EnqueueOutcome(
                        "duplicate",
                        self._item_by_id(conn, existing.id),
                        f"{new.source} is already queued for {new.account} as item {existing.id}; nothing changed",
                    )
                self._reformat(conn, existing, new, at, now)
                item = self._item_by_id(conn, existing.id)
                why = "re-formatted (forced)" if same else "changed since it was queued: re-formatted"
                return EnqueueOutcome(
                    "reformatted",
                    item,
                    f"{new.source} {why} in place as item {item.id}, due {item.due_at.isoformat()}",
                )
            else:  # failed or needs_review, nothing posted
                if same and not force:
                    return EnqueueOutcome(
                        "duplicate",
                        self._item_by_id(conn, existing.id),
                        f"{new.source} is already queued for {new.account} as item {existing.id} "
                        f"({state.value}); nothing changed (use `crieur queue retry {existing.id}`)",
                    )
                self._move(conn, existing, "replace", Actor.ENQUEUE, now, slot_at=None,
                           last_error="replaced by a newer version of the article")
                replaced = existing.id

        if at is not None:
            due, slot = at, None
        else:
            assert schedule is not None
            slot = self._take_slot(conn, new.account, schedule, now, cursor, not_before)
            due = slot
        # A thread that needs a person's approval holds its slot but is never claimable before it.
        review = new.options.get("review") == "required"
        values: dict[str, Any] = dict(
            campaign=new.campaign,
            account=new.account,
            platform=new.platform,
            source=new.source,
            content_hash=new.content_hash,
            title=new.title,
            lang=new.lang,
            media=list(new.media),
            options=dict(new.options),
            due_at=due,
            slot_at=slot,
            attempts=0,
            next_attempt_at=due,
            created_at=now,
            updated_at=now,
            version=0,
        )
        values.update(state_columns(ItemState.AWAITING_REVIEW if review else ItemState.SCHEDULED, values))
        try:
            item_id: int = conn.execute(items.insert().values(**values).returning(items.c.id)).scalar_one()
        except IntegrityError as exc:
            detail = str(exc.orig)
            if "slot" not in detail:  # not the (account, slot_at) index: a bug, not a taken slot
                raise
            # Only possible if something other than enqueue gave an item a slot past the cursor.
            raise StoreError(
                f"slot {due.isoformat()} of {new.account} is already taken; the store's slot cursor is "
                "behind its items (was the database edited by hand?)"
            ) from None
        post_rows = self._insert_posts(conn, item_id, new.posts)
        # Built from what was just written rather than read back: one round trip less per enqueue.
        item = Item(
            id=item_id,
            last_error=None,
            posts=post_rows,
            **{key: value for key, value in values.items() if key != "ready_at"},  # ready_at is internal
        )
        message = f"queued {new.source} for {new.account} as item {item_id}, due {due.isoformat()}"
        if replaced is not None:
            message += f" (replaces item {replaced})"
        elif existing is not None:
            message += f" (forced; item {existing.id} was already published)"
        return EnqueueOutcome("queued", item, message)

    def _lock_account_cursor(self, conn: Connection, account: str) -> datetime | None:
        """Lock the account's cursor row (creating it) and return its last assigned slot.

        Every enqueue of one account goes through this row, so on PostgreSQL concurrent enqueues
        of an account are serialised (the upsert locks the row until commit) while other
        accounts proceed; on SQLite the write transaction already serialises them.
        """
        stmt = self._insert(slot_cursors).values(account=account, last_slot_at=None)
        stmt = stmt.on_conflict_do_update(
            index_elements=[slot_cursors.c.account], set_={"account": stmt.excluded.account}
        ).returning(slot_cursors.c.last_slot_at)
        return conn.execute(stmt).scalar_one()

    def _together_floors(self, conn: Connection, batch: Sequence[tuple[NewItem, Schedule | None]],
                         now: datetime, tolerance: timedelta) -> dict[int, datetime]:
        """For `together`: the earliest slot each batch entry may take (by index in `batch`).

        Per source: the latest of its accounts' next free slots, offsets taken out, minus the
        tolerance, offset put back per account.
        """
        groups: dict[str, list[int]] = {}
        for index, (new, _) in enumerate(batch):
            groups.setdefault(new.source, []).append(index)
        floors: dict[int, datetime] = {}
        for indexes in groups.values():
            if len(indexes) < 2:
                continue
            bases = []
            for index in indexes:
                new, schedule = batch[index]
                assert schedule is not None
                cursor = self._lock_account_cursor(conn, new.account)
                bases.append(self._peek_slot(conn, new.account, schedule, now, cursor) - _offset(schedule))
            floor = max(bases) - tolerance
            for index in indexes:
                floors[index] = floor + _offset(batch[index][1])
        return floors

    def _peek_slot(self, conn: Connection, account: str, schedule: Schedule, now: datetime,
                   cursor: datetime | None) -> datetime:
        """The slot `_take_slot` would give now, changing nothing."""
        candidates: list[datetime] = list(conn.execute(
            select(free_slots.c.slot_at).where(free_slots.c.account == account, free_slots.c.slot_at > now)
            .order_by(free_slots.c.slot_at).limit(20)
        ).scalars())
        for freed in candidates:
            if as_utc(schedule.next_slot(freed - timedelta(microseconds=1))) == freed and not self._occupied(
                    conn, account, freed):
                return as_utc(freed)
        return as_utc(schedule.next_slot(max(now, cursor) if cursor is not None else now))

    def _take_slot(
        self, conn: Connection, account: str, schedule: Schedule, now: datetime, cursor: datetime | None,
        not_before: datetime | None = None,
    ) -> datetime:
        """The slot for a new item of `account` (the cursor row must be locked by the caller);
        with `not_before`, the first at or after it, the free ones skipped kept for later.

        Invariant: every slot held by an item is at or before the cursor (slots are handed out
        only here, the cursor only moves forward), so the slot after the cursor is free without
        looking; the unique index on (account, slot_at) stands guard all the same.
        """
        freed_slots: Sequence[datetime] = conn.execute(
            select(free_slots.c.slot_at).where(free_slots.c.account == account).order_by(free_slots.c.slot_at).limit(20)
        ).scalars().all()
        for freed in freed_slots:
            valid = (
                freed > now
                and as_utc(schedule.next_slot(freed - timedelta(microseconds=1))) == freed
                and not self._occupied(conn, account, freed)
            )
            if valid and not_before is not None and freed < not_before:
                continue  # free, but too early for this thread: kept for the next one
            conn.execute(delete(free_slots).where(free_slots.c.account == account, free_slots.c.slot_at == freed))
            # Past slots are dropped. The campaign's schedule may have changed since the slot was
            # freed: reuse it only if it is still one of the schedule's slots and nobody holds it.
            if valid:
                return freed
        start = max(now, cursor) if cursor is not None else now
        slot = as_utc(schedule.next_slot(start), "schedule.next_slot()")
        if slot <= start:
            raise StoreError(f"the schedule returned {slot.isoformat()}, not a slot after {start.isoformat()}")
        skipped = 0
        while not_before is not None and slot < not_before and skipped < 1000:
            # Skipped to keep one article's threads together: free for this account's next thread.
            conn.execute(self._insert(free_slots).values(account=account, slot_at=slot).on_conflict_do_nothing())
            slot = as_utc(schedule.next_slot(slot), "schedule.next_slot()")
            skipped += 1
        conn.execute(update(slot_cursors).where(slot_cursors.c.account == account).values(last_slot_at=slot))
        return slot

    @staticmethod
    def _occupied(conn: Connection, account: str, slot: datetime) -> bool:
        return conn.execute(
            select(exists().where(items.c.account == account, items.c.slot_at == slot))
        ).scalar_one()

    @staticmethod
    def _insert_posts(conn: Connection, item_id: int, texts: list[str]) -> list[PostRow]:
        rows = [
            PostRow(index=i, text=t, state=PostState.PENDING, remote_id=None, url=None, posted_at=None,
                    idempotency_key=uuid.uuid4().hex)
            for i, t in enumerate(texts, start=1)
        ]
        conn.execute(
            posts.insert(),
            [
                {"item_id": item_id, "idx": r.index, "text": r.text, "state": r.state,
                 "idempotency_key": r.idempotency_key}
                for r in rows
            ],
        )
        return rows

    def _reformat(self, conn: Connection, row: Any, new: NewItem, at: datetime | None, now: datetime) -> None:
        values: dict[str, Any] = dict(
            platform=new.platform,
            content_hash=new.content_hash,
            title=new.title,
            lang=new.lang,
            media=list(new.media),
            options=dict(new.options),
            version=items.c.version + 1,
        )
        if at is not None:
            self._free_slot(conn, row, now)
            values.update(due_at=at, slot_at=None, next_attempt_at=at)
        # Re-formatted text is new text: where a person approves, they approve it again.
        review = new.options.get("review") == "required" or row.state == ItemState.AWAITING_REVIEW
        self._move(conn, row, "reformat_review" if review else "reformat", Actor.ENQUEUE, now, **values)
        conn.execute(delete(posts).where(posts.c.item_id == row.id))
        self._insert_posts(conn, row.id, new.posts)

    def _free_slot(self, conn: Connection, row: Any, now: datetime) -> None:
        """Give a future slot held by `row` back to its account (the caller clears `slot_at`)."""
        if row.slot_at is not None and row.slot_at > now:
            conn.execute(
                self._insert(free_slots).values(account=row.account, slot_at=row.slot_at).on_conflict_do_nothing()
            )

    # -- reading ----------------------------------------------------------------------------

    def list_items(
        self,
        state: ItemState | str | None = None,
        campaign: str | None = None,
        *,
        account: str | None = None,
        limit: int | None = None,
    ) -> list[Item]:
        """Items (with their posts) in due order, optionally of one state, campaign and account."""
        conds = []
        if state is not None:
            conds.append(items.c.state == ItemState(state))
        if campaign is not None:
            conds.append(items.c.campaign == campaign)
        if account is not None:
            conds.append(items.c.account == account)
        with self._read() as conn:
            return self._fetch_items(conn, and_(*conds) if conds else None, limit=limit)

    def get_item(self, item_id: int) -> Item:
        """The item with its posts; NoSuchItem (`no item 12`) if there is none."""
        with self._read() as conn:
            return self._item_by_id(conn, item_id)

    def find_item(self, campaign: str, account: str, source: str) -> Item | None:
        """The latest item of that article identity that is not cancelled, or None."""
        with self._read() as conn:
            found = self._fetch_items(
                conn,
                and_(
                    items.c.campaign == campaign,
                    items.c.account == account,
                    items.c.source == source,
                    items.c.state != ItemState.CANCELLED,
                ),
                order=(items.c.id.desc(),),
                limit=1,
            )
        return found[0] if found else None

    # -- the user's commands ----------------------------------------------------------------

    def cancel(self, item_id: int, *, now: datetime | None = None) -> Item:
        """Cancel a scheduled, failed or needs_review item (or one whose publisher's lease expired);
        its future slot is freed for the next enqueue. Posts already out stay out.
        InvalidTransition for a published, cancelled, or currently publishing item."""
        now = self._now(now)
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            moved_values("cancel", row, Actor.USER, now)  # refuses before the slot is freed
            self._free_slot(conn, row, now)
            self._move(conn, row, "cancel", Actor.USER, now, slot_at=None, version=items.c.version + 1)
            return self._item_by_id(conn, item_id)

    def retry(self, item_id: int, *, now: datetime | None = None) -> Item:
        """Put a failed or needs_review item back to scheduled, due now, with its attempts reset.
        Posts already out are kept: publishing resumes with the first post not posted.
        InvalidTransition for other states, or while a post's outcome is unknown (resolve it first)."""
        now = self._now(now)
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            moved_values("retry", row, Actor.USER, now)  # the state check comes first
            self._refuse_unknown(conn, item_id)
            self._move(conn, row, "retry", Actor.USER, now, due_at=now, next_attempt_at=now, attempts=0,
                       last_error=None, version=items.c.version + 1)
            return self._item_by_id(conn, item_id)

    def reschedule(
        self, item_id: int, at: datetime, *, now: datetime | None = None, expected_version: int | None = None
    ) -> Item:
        """Move a scheduled, failed or needs_review item to `at` (it becomes scheduled, holds no
        slot, and its former future slot is freed); a thread awaiting review stays awaiting review.
        InvalidTransition for published, cancelled, rejected or currently publishing items, while a
        post's outcome is unknown, or when another thread of the same account is due at `at`
        (two threads never share a slot). EditConflict if `expected_version` is stale."""
        now = self._now(now)
        at = as_utc(at, "at")
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            self._check_version(row, expected_version)
            state = ItemState(row.state)
            move = "reschedule_review" if state == ItemState.AWAITING_REVIEW else "reschedule"
            values: dict[str, Any] = dict(due_at=at, slot_at=None, next_attempt_at=at, version=items.c.version + 1)
            if state in (ItemState.FAILED, ItemState.NEEDS_REVIEW):
                values.update(attempts=0, last_error=None)
            moved_values(move, row, Actor.USER, now, **values)  # the state check comes first
            self._refuse_unknown(conn, item_id)
            self._refuse_taken_time(conn, row, at)
            self._free_slot(conn, row, now)
            self._move(conn, row, move, Actor.USER, now, **values)
            return self._item_by_id(conn, item_id)

    def reslot(self, item_id: int, schedule: Schedule, *, now: datetime | None = None) -> Item:
        """Move a scheduled item to the next free slot of its account's `schedule` after now, as a
        new enqueue would get (a missed slot: the daemon was down too long). Its old slot is freed
        if still in the future. InvalidTransition unless the item is scheduled."""
        now = self._now(now)
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            moved_values("reslot", row, Actor.DAEMON, now)  # the state check comes first
            cursor = self._lock_account_cursor(conn, row.account)
            self._free_slot(conn, row, now)
            # Clear the old slot first: the new one may be that very slot given back a moment ago.
            conn.execute(update(items).where(items.c.id == item_id).values(slot_at=None))
            slot = self._take_slot(conn, row.account, schedule, now, cursor)
            self._move(conn, row, "reslot", Actor.DAEMON, now, due_at=slot, slot_at=slot, next_attempt_at=slot)
            return self._item_by_id(conn, item_id)

    @staticmethod
    def _check_version(row: Any, expected: int | None) -> None:
        """EditConflict when the caller read the item at another version than the stored one."""
        if expected is not None and row.version != expected:
            raise EditConflict(
                f"item {row.id} was changed since you opened it (version {expected}, now {row.version}; "
                f"it is {row.state}, last changed {row.updated_at:%Y-%m-%d %H:%M:%S} UTC): nothing was "
                "saved; reload it and make your change again"
            )

    @staticmethod
    def _refuse_taken_time(conn: Connection, row: Any, at: datetime) -> None:
        """InvalidTransition when another live thread of the item's account is due at `at`."""
        other = conn.execute(
            select(items.c.id).where(
                items.c.account == row.account,
                items.c.due_at == at,
                items.c.id != row.id,
                items.c.state.not_in([ItemState.CANCELLED, ItemState.REJECTED, ItemState.FAILED]),
            ).limit(1)
        ).scalar()
        if other is not None:
            raise InvalidTransition(
                f"item {row.id}: {at:%Y-%m-%d %H:%M} UTC is taken by item {other} of account "
                f"{row.account}; pick another time"
            )

    @staticmethod
    def _refuse_unknown(conn: Connection, item_id: int) -> None:
        unknown = conn.execute(
            select(posts.c.idx).where(posts.c.item_id == item_id, posts.c.state == PostState.UNKNOWN).limit(1)
        ).scalar()
        if unknown is not None:
            raise InvalidTransition(
                f"item {item_id}: whether post {unknown} went out is unknown; settle it first with "
                f"`crieur queue resolve {item_id} --posted URL` or `--not-posted`"
            )
