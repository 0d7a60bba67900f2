"""The publisher's side of the queue: claiming due items under a lease, recording each post, failures and history."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, delete, exists, func, literal, or_, select, update
from sqlalchemy.sql import ColumnElement

from bot.store.base import StoreBase, as_utc
from bot.store.model import (
    Attempt,
    InvalidTransition,
    Item,
    ItemState,
    LeaseLost,
    PostState,
    StoreError,
)
from bot.store.schema import accounts, attempts, items, posts
from bot.store.states import Actor, allowed, moved_values


@dataclass(frozen=True)
class StartupView:
    """See `PublishingMixin.startup_view`."""

    due_ids: list[int]
    in_doubt: int
    other_campaigns: list[str]


def _account_busy(now: datetime) -> ColumnElement[bool]:
    """SQL: another item of the item's account is being published under a live lease.

    The account-level lease: an account publishes one thread at a time on any number of nodes.
    The thread's own item lease (renewed before every post, covering the spacing) is the
    account's lease; when its holder dies it runs out and the account is free again. (Walks
    ix_items_state_due: only the few publishing items are looked at.)
    """
    other = items.alias("busy")
    return exists().where(
        other.c.state == ItemState.PUBLISHING,
        other.c.account == items.c.account,
        other.c.lease_expires_at > now,
    )


def _not_paused(now: datetime) -> ColumnElement[bool]:
    """SQL: the item's account is not paused at `now`."""
    return ~exists().where(
        accounts.c.account == items.c.account,
        accounts.c.pause_reason.is_not(None),
        or_(accounts.c.paused_until.is_(None), accounts.c.paused_until > now),
    )


class PublishingMixin(StoreBase):
    """Claiming, leases, per-post records, failures and the attempts history."""

    def _due_query(self, now: datetime, campaigns: Collection[str] | None,
                   exclude_accounts: Collection[str] = ()) -> Any:
        # `ready_at <= now` walks ix_items_ready in due order: items that cannot be claimed have
        # NULL there and are not in that partial index. No test on `state` here (ready_at is
        # non-NULL exactly while scheduled or publishing): it would tempt SQLite's planner into
        # the state index and a sort of every due item.
        query = (
            select(items.c.id, items.c.account)
            .where(items.c.ready_at <= now, _not_paused(now), ~_account_busy(now))
            .order_by(items.c.ready_at, items.c.id)
            .limit(1)
        )
        if campaigns is not None:
            # `campaign || ''` rather than `campaign`: with a bare column SQLite would pick the
            # identity index and sort every due item of the campaign instead of walking ready_at.
            query = query.where((items.c.campaign + "").in_(list(campaigns)))
        if exclude_accounts:
            # Accounts this process is already publishing for: one thread per account at a time.
            query = query.where((items.c.account + "").not_in(list(exclude_accounts)))
        return query

    def claim_due(
        self,
        now: datetime | None,
        holder: str,
        lease: timedelta,
        *,
        campaigns: Collection[str] | None = None,
        exclude_accounts: Collection[str] = (),
    ) -> Item | None:
        """Claim the next item due at `now` for `holder`, or return None when nothing is due.

        Items of `exclude_accounts` are skipped (the caller is busy publishing for them).

        Due = scheduled with due_at and next_attempt_at <= now, or publishing with an expired
        lease (its holder died: taken over), of an account not paused, of one of `campaigns` when
        given; the earliest first. The item becomes publishing, held by `holder` until now + lease.
        No two holders ever get the same item: PostgreSQL skips rows other claimers have locked
        (FOR UPDATE SKIP LOCKED); SQLite's write transaction excludes other writers.
        """
        now = self._now(now)
        skip = set(exclude_accounts)
        with self._write() as conn:
            while True:
                candidate = conn.execute(
                    self._due_query(now, campaigns, skip).with_for_update(skip_locked=True)
                ).first()
                if candidate is None:
                    return None
                if self._lock_account(conn, candidate.account, now):
                    break
                skip.add(candidate.account)  # another node is claiming or publishing for it
            item_id = self._first_of_account(conn, candidate.account, now, campaigns) or candidate.id
            row = self._lock_item(conn, item_id)
            self._move(conn, row, "claim", Actor.PUBLISHER, now, holder=holder, lease_expires_at=now + lease)
            return self._item_by_id(conn, item_id)

    def _lock_account(self, conn: Connection, account: str, now: datetime) -> bool:
        """Take the account for this claim: False when another node is claiming for it right now
        or one of its threads is being published (the account's lease is live).

        PostgreSQL: a transaction-level advisory lock per account serialises the claims of one
        account across nodes (tried, never waited for), and the check after it sees every claim
        committed before. SQLite: the write transaction already excludes every other claimer.
        """
        if self.dialect == "postgresql":
            got = conn.execute(
                select(func.pg_try_advisory_xact_lock(func.hashtext(literal("crieur-account:") + account)))
            ).scalar()
            if not got:
                return False
        busy = conn.execute(
            select(items.c.id).where(
                items.c.account == account, items.c.state == ItemState.PUBLISHING, items.c.lease_expires_at > now
            ).limit(1)
        ).first()
        return busy is None

    def _first_of_account(self, conn: Connection, account: str, now: datetime,
                          campaigns: Collection[str] | None) -> int | None:
        """The account's due item to publish first: a thread taken over from a dead node, then one
        already started (some posts out), then the earliest — so a thread cut in the middle
        resumes before any new thread of the account starts, whatever their due times."""
        started = exists().where(posts.c.item_id == items.c.id, posts.c.state != PostState.PENDING)
        query = (
            select(items.c.id)
            .where(items.c.account == account, items.c.ready_at <= now)
            .order_by(
                case((items.c.state == ItemState.PUBLISHING, 0), (started, 1), else_=2),
                items.c.ready_at,
                items.c.id,
            )
            .limit(1)
        )
        if campaigns is not None:
            query = query.where(items.c.campaign.in_(list(campaigns)))
        return conn.execute(query).scalar()

    def next_due_at(self, now: datetime | None = None, *, campaigns: Collection[str] | None = None) -> datetime | None:
        """When the daemon should next wake up: the earliest time an item becomes claimable.

        That is the earliest `ready_at` of items of accounts not paused (possibly in the past:
        wake now), or the end of an account's pause when it has items waiting; None when nothing
        is scheduled. Accounts paused until resumed do not wake anyone.
        """
        now = self._now(now)
        with self._read() as conn:
            query = (
                select(items.c.ready_at)
                # An item of an account busy elsewhere waits for that thread; the busy item's own
                # ready_at (its lease expiry) is when a dead holder's account frees up.
                .where(items.c.ready_at.is_not(None), _not_paused(now),
                       or_(items.c.state == ItemState.PUBLISHING, ~_account_busy(now)))
                .order_by(items.c.ready_at, items.c.id)
                .limit(1)
            )
            pauses = select(func.min(accounts.c.paused_until)).where(
                accounts.c.pause_reason.is_not(None),
                accounts.c.paused_until > now,
                exists().where(items.c.account == accounts.c.account, items.c.ready_at.is_not(None)),
            )
            if campaigns is not None:
                query = query.where(items.c.campaign.in_(list(campaigns)))
                pauses = pauses.where(
                    exists().where(
                        items.c.account == accounts.c.account,
                        items.c.ready_at.is_not(None),
                        items.c.campaign.in_(list(campaigns)),
                    )
                )
            times = [t for t in (conn.execute(query).scalar(), conn.execute(pauses).scalar()) if t is not None]
        return min(as_utc(t) for t in times) if times else None

    def renew_lease(self, item_id: int, holder: str, lease: timedelta, *, now: datetime | None = None) -> datetime:
        """Extend `holder`'s lease on the item to now + lease and return the new expiry.

        Call it before each post: LeaseLost means another holder took the item (this one stalled
        past its lease) or it was released, and the caller must stop publishing it at once.
        """
        now = self._now(now)
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            self._check_holder(row, holder)
            expires = now + lease
            self._move(conn, row, "renew", Actor.PUBLISHER, now, lease_expires_at=expires)
            return expires

    def release(self, item_id: int, holder: str, *, now: datetime | None = None) -> bool:
        """Give back an item `holder` claimed but will not finish (shutdown): it is scheduled
        again, claimable at once by anyone. False (and nothing changes) if `holder` does not hold it."""
        now = self._now(now)
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            if row.state != ItemState.PUBLISHING or row.lease_holder != holder:
                return False
            self._unlease(conn, row, now)
            return True

    def release_all(self, holder: str, *, now: datetime | None = None) -> int:
        """Release every item `holder` holds (a stopping node frees its items at once); the count."""
        now = self._now(now)
        with self._write() as conn:
            rows = conn.execute(
                select(items)
                .where(items.c.state == ItemState.PUBLISHING, items.c.lease_holder == holder)
                .with_for_update()
            ).all()
            for row in rows:
                self._unlease(conn, row, now)
            return len(rows)

    def release_others(self, holder: str, *, now: datetime | None = None) -> int:
        """Release every item held by anyone but `holder`, whatever their leases; the count.

        Only for a store served by one process (SQLite under the daemon's lock file): the lock
        proves every other holder dead, so waiting for their leases would only delay a restart.
        """
        now = self._now(now)
        with self._write() as conn:
            rows = conn.execute(
                select(items)
                .where(items.c.state == ItemState.PUBLISHING, items.c.lease_holder != holder)
                .with_for_update()
            ).all()
            for row in rows:
                self._move(conn, row, "release", Actor.DAEMON, now)
            return len(rows)

    def startup_view(self, now: datetime | None, campaigns: Collection[str]) -> StartupView:
        """What a starting daemon looks at: the ids of the scheduled items of `campaigns` due at
        `now` (in due order), how many of their items have a post in doubt, and which other
        campaigns have scheduled items (this daemon will leave them alone)."""
        now = self._now(now)
        served = list(campaigns)
        scheduled = items.c.state == ItemState.SCHEDULED
        with self._read() as conn:
            due_ids: Sequence[int] = conn.execute(
                select(items.c.id).where(scheduled, items.c.due_at <= now, items.c.campaign.in_(served))
                .order_by(items.c.due_at, items.c.id)
            ).scalars().all()
            doubt = conn.execute(
                select(func.count(func.distinct(posts.c.item_id)))
                .select_from(posts.join(items, posts.c.item_id == items.c.id))
                .where(scheduled, posts.c.state == PostState.UNKNOWN, items.c.campaign.in_(served))
            ).scalar_one()
            others: list[str] = sorted(set(conn.execute(
                select(items.c.campaign).distinct().where(scheduled, items.c.campaign.not_in(served))
            ).scalars()))
        return StartupView(list(due_ids), doubt, others)

    def _unlease(self, conn: Connection, row: Any, now: datetime) -> None:
        self._move(conn, row, "release", Actor.PUBLISHER, now)

    @staticmethod
    def _check_holder(row: Any, holder: str) -> None:
        if row.state != ItemState.PUBLISHING or row.lease_holder != holder:
            other = f"held by {row.lease_holder}" if row.lease_holder else ItemState(row.state).value
            raise LeaseLost(f"item {row.id} is no longer held by {holder} (it is {other})")

    def mark_sending(self, item_id: int, index: int, holder: str, *, now: datetime | None = None) -> None:
        """Write ahead, durably, that post `index` is about to be sent: its state becomes unknown.

        Call it right before the request to the platform; `record_post` (sent) or
        `mark_not_sent` (certainly not sent) settles it. If the process dies in between, the post
        stays unknown, so whoever resumes the thread checks the platform instead of posting again.
        LeaseLost if `holder` does not hold the item (then do not send); StoreError if the post
        is already posted.
        """
        now = self._now(now)
        with self._write(durable=True) as conn:
            # The usual case in one statement: held by `holder` and not posted yet. The item's row
            # is written too (updated_at), which locks it on PostgreSQL like _lock_item would.
            held = conn.execute(
                update(items)
                .where(items.c.id == item_id, items.c.state == ItemState.PUBLISHING, items.c.lease_holder == holder)
                .values(updated_at=now)
            ).rowcount
            marked = held and conn.execute(
                update(posts)
                .where(posts.c.item_id == item_id, posts.c.idx == index, posts.c.state != PostState.POSTED)
                .values(state=PostState.UNKNOWN, sent_at=func.coalesce(posts.c.sent_at, now))
            ).rowcount
            if marked:
                return
            # Otherwise say precisely why not (the slow path: no such item, lease lost, posted).
            row = self._lock_item(conn, item_id)
            self._check_holder(row, holder)
            post = self._post(conn, item_id, index)
            raise StoreError(f"item {item_id} post {index} is already posted ({post.remote_id}); not sending it again")

    def mark_not_sent(self, item_id: int, index: int, holder: str, *, now: datetime | None = None) -> bool:
        """Undo `mark_sending` when the request certainly did not reach the platform: the post is
        pending again. Only while `holder` still holds the item (another holder may be sending the
        same post by now); returns False, changing nothing, otherwise or if the post is posted."""
        self._now(now)
        with self._write() as conn:
            row = self._lock_item(conn, item_id)
            if row.state != ItemState.PUBLISHING or row.lease_holder != holder:
                return False
            return (
                conn.execute(
                    update(posts)
                    .where(posts.c.item_id == item_id, posts.c.idx == index, posts.c.state == PostState.UNKNOWN)
                    .values(state=PostState.PENDING, sent_at=None)
                ).rowcount
                == 1
            )

    def record_post(
        self,
        item_id: int,
        index: int,
        remote_id: str,
        url: str | None,
        posted_at: datetime,
        *,
        now: datetime | None = None,
        fetch: bool = True,
    ) -> Item | None:
        """Store that post `index` (1-based) of the item is on the platform as `remote_id` at `url`.

        Call it right after the platform accepted the post and before posting the next one: it
        is what makes a crash-restart resume instead of posting again. It records whatever the
        item's lease (the post is out either way). Recording the same remote id again does
        nothing; a different one raises StoreError. When every post is recorded the item becomes
        published (unless it was cancelled meanwhile) and its lease is cleared. An attempt row
        ("posted") is written. Returns the item as it now is, or None with `fetch=False` (the
        publisher's hot path, which does not need it read back).
        """
        now = self._now(now)
        posted_at = as_utc(posted_at, "posted_at")
        remote_id = str(remote_id)
        with self._write(durable=True) as conn:
            row = self._lock_item(conn, item_id)
            post = self._post(conn, item_id, index)
            if post.state == PostState.POSTED:
                if post.remote_id == remote_id:
                    return self._item_by_id(conn, item_id)
                raise StoreError(
                    f"item {item_id} post {index} is already recorded as posted with remote id "
                    f"{post.remote_id}, not {remote_id}: it may be on the platform twice"
                )
            conn.execute(
                update(posts)
                .where(posts.c.item_id == item_id, posts.c.idx == index)
                .values(state=PostState.POSTED, remote_id=remote_id, url=url, posted_at=posted_at)
            )
            self._history(conn, row, now, "posted", None, index=index, remote_id=remote_id)
            left = conn.execute(
                select(func.count()).where(posts.c.item_id == item_id, posts.c.state != PostState.POSTED)
            ).scalar_one()
            if left == 0 and allowed("publish", row.state):
                self._move(conn, row, "publish", Actor.PUBLISHER, now, last_error=None)
            else:  # a post of a thread in progress (or of one a person stopped meanwhile)
                conn.execute(update(items).where(items.c.id == item_id).values(updated_at=now))
            return self._item_by_id(conn, item_id) if fetch else None

    def post_failed(
        self,
        item_id: int,
        error: str,
        *,
        retry_at: datetime | None = None,
        final_state: ItemState | str | None = None,
        index: int | None = None,
        unknown: bool = False,
        holder: str | None = None,
        count: bool = True,
        now: datetime | None = None,
    ) -> Item:
        """Record a failed publish attempt of a publishing item and release its lease.

        `final_state` "failed" or "needs_review" ends the item there; otherwise it goes back to
        scheduled, next attempt at `retry_at` (now when None). `attempts` grows by one and
        `last_error` = `error` (the platform's message; never a token). `index` names the post
        concerned; with `unknown=True` that post's outcome is marked unknown (the request may
        have reached the platform): retry/reschedule then refuse until `resolve_post` settles it.
        An attempt row is written (outcome: the final state, "unknown" or "retry"). `count=False`:
        not the thread's fault (a paused account): `attempts` does not grow, outcome "paused".
        InvalidTransition if the item is not publishing; LeaseLost if `holder` is given and
        does not hold it.
        """
        now = self._now(now)
        final = ItemState(final_state) if final_state is not None else None
        if final not in (None, ItemState.FAILED, ItemState.NEEDS_REVIEW):
            raise ValueError(f"final_state must be failed or needs_review, not {final}")
        if unknown and index is None:
            raise ValueError("unknown=True needs the index of the post concerned")
        with self._write(durable=True) as conn:
            row = self._lock_item(conn, item_id)
            move = {None: "back_off", ItemState.FAILED: "fail", ItemState.NEEDS_REVIEW: "review"}[final]
            moved_values(move, row, Actor.PUBLISHER, now)  # the state check comes first
            if holder is not None:
                self._check_holder(row, holder)
            if index is not None:
                self._post(conn, item_id, index)
            if unknown:
                conn.execute(
                    update(posts)
                    .where(posts.c.item_id == item_id, posts.c.idx == index, posts.c.state != PostState.POSTED)
                    .values(state=PostState.UNKNOWN, sent_at=func.coalesce(posts.c.sent_at, now))
                )
            values: dict[str, Any] = dict(attempts=row.attempts + (1 if count else 0), last_error=error)
            if final is not None:
                outcome = final.value
            else:
                values.update(next_attempt_at=as_utc(retry_at, "retry_at") if retry_at is not None else now)
                outcome = "retry" if count else "paused"
            if unknown:
                outcome = "unknown"
            self._move(conn, row, move, Actor.PUBLISHER, now, **values)
            self._history(conn, row, now, outcome, error, index=index)
            return self._item_by_id(conn, item_id)

    def resolve_post(
        self,
        item_id: int,
        index: int,
        *,
        posted: bool,
        remote_id: str | None = None,
        url: str | None = None,
        now: datetime | None = None,
    ) -> Item:
        """A person settles a post whose outcome was unknown (`crieur queue resolve`).

        `posted=True` records it as posted (`remote_id` required, `url` optional); `posted=False`
        makes it pending again (it will be posted). The thread then goes on: the item becomes
        published if every post is out, else scheduled and due now. InvalidTransition for a
        published or cancelled item, one being published, or a post that is already posted.
        """
        now = self._now(now)
        if posted and not remote_id:
            raise StoreError(f"item {item_id} post {index}: a posted post needs its remote id")
        with self._write(durable=True) as conn:
            row = self._lock_item(conn, item_id)
            try:
                moved_values("resolve", row, Actor.USER, now)  # the state check comes first
            except InvalidTransition:
                what = "being published" if row.state == ItemState.PUBLISHING else ItemState(row.state).value
                raise InvalidTransition(f"item {item_id} is {what}; its posts cannot be resolved now") from None
            post = self._post(conn, item_id, index)
            if post.state == PostState.POSTED:
                raise InvalidTransition(f"item {item_id} post {index} is already posted ({post.remote_id})")
            conn.execute(
                update(posts)
                .where(posts.c.item_id == item_id, posts.c.idx == index)
                .values(
                    state=PostState.POSTED if posted else PostState.PENDING,
                    remote_id=str(remote_id) if posted else None,
                    url=url if posted else None,
                    posted_at=now if posted else None,
                    # Not posted: the next send is a first send (its key's lifetime starts then).
                    sent_at=post.sent_at if posted else None,
                )
            )
            self._history(
                conn,
                row,
                now,
                "resolved",
                "posted" if posted else "not posted",
                index=index,
                remote_id=str(remote_id) if posted else None,
            )
            left = conn.execute(
                select(func.count()).where(posts.c.item_id == item_id, posts.c.state != PostState.POSTED)
            ).scalar_one()
            if left == 0:
                self._move(conn, row, "resolve_last", Actor.USER, now, last_error=None)
            else:
                self._move(conn, row, "resolve", Actor.USER, now, next_attempt_at=now, attempts=0, last_error=None)
            return self._item_by_id(conn, item_id)

    # -- history ----------------------------------------------------------------------------

    def record_attempt(
        self,
        item_id: int,
        outcome: str,
        message: str | None = None,
        *,
        index: int | None = None,
        remote_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Append an event to the item's history that no other method writes (e.g. "deferred")."""
        now = self._now(now)
        with self._write() as conn:
            row = conn.execute(select(items.c.id, items.c.account).where(items.c.id == item_id)).first()
            if row is None:
                raise StoreError(f"no item {item_id}")
            self._history(conn, row, now, outcome, message, index=index, remote_id=remote_id)

    def attempts(self, item_id: int) -> list[Attempt]:
        """The item's history, oldest first (empty for an unknown id)."""
        with self._read() as conn:
            rows = conn.execute(select(attempts).where(attempts.c.item_id == item_id).order_by(attempts.c.id)).all()
        return [
            Attempt(
                id=r.id,
                item_id=r.item_id,
                account=r.account,
                at=r.at,
                post_index=r.post_index,
                outcome=r.outcome,
                message=r.message,
                remote_id=r.remote_id,
            )
            for r in rows
        ]

    def posted_times(self, account: str, since: datetime) -> list[datetime]:
        """When `account`'s posts were recorded as posted since `since`, oldest first (for the
        publisher's check against the platform's known caps)."""
        since = as_utc(since, "since")
        with self._read() as conn:
            rows: Sequence[datetime] = conn.execute(
                select(attempts.c.at)
                .where(attempts.c.at >= since, attempts.c.account == account, attempts.c.outcome == "posted")
                .order_by(attempts.c.at)
            ).scalars().all()
        return [as_utc(r) for r in rows]

    def prune_attempts(self, before: datetime) -> int:
        """Delete history rows older than `before`; the number deleted."""
        before = as_utc(before, "before")
        with self._write() as conn:
            return conn.execute(delete(attempts).where(attempts.c.at < before)).rowcount

    @staticmethod
    def _history(
        conn: Connection,
        row: Any,
        now: datetime,
        outcome: str,
        message: str | None,
        *,
        index: int | None = None,
        remote_id: str | None = None,
    ) -> None:
        conn.execute(
            attempts.insert().values(
                item_id=row.id,
                account=row.account,
                at=now,
                post_index=index,
                outcome=outcome,
                message=message,
                remote_id=remote_id,
            )
        )

    @staticmethod
    def _post(conn: Connection, item_id: int, index: int) -> Any:
        post = conn.execute(select(posts).where(and_(posts.c.item_id == item_id, posts.c.idx == index))).first()
        if post is None:
            raise StoreError(f"item {item_id} has no post {index}")
        return post
