"""The publisher's hot path: record a post and write ahead the next one in ONE durable transaction.

With `spacing: 0s` nothing happens between recording post i and marking post i+1 `unknown`
(the write-ahead before sending it), so both go in one commit: the remote id of post i is durably
stored before post i+1 is sent, exactly as with two commits, for one fsync instead of two and a
handful of prepared statements instead of a dozen built ones. Anything unusual (lease lost, post
already recorded, no such post) rolls the transaction back and returns False: the caller then
takes the general path (`record_post`, `mark_sending`), which says precisely what is wrong.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, exists, func, update

from bot.store.base import StoreBase, as_utc
from bot.store.model import ItemState, PostState
from bot.store.schema import UTCDateTime, attempts, items, posts
from bot.store.states import MOVES, state_columns

# The moves made here, as the state table has them: "renew" (publishing -> publishing, a fresh
# lease) on every post and "publish" (publishing -> published) after the last. The SQL guards
# below (state = publishing, lease_holder = the holder) are exactly their source-state and lease
# checks, so the row need not be read first; the columns each state implies come from the table.
assert ItemState.PUBLISHING in MOVES["renew"].sources and MOVES["renew"].target == ItemState.PUBLISHING
assert ItemState.PUBLISHING in MOVES["publish"].sources and MOVES["publish"].target == ItemState.PUBLISHED
_HOLDER_MARK, _EXPIRES_MARK = "<holder>", datetime(1970, 1, 1, tzinfo=timezone.utc)
_PARAMS = {_HOLDER_MARK: bindparam("b_holder"), _EXPIRES_MARK: bindparam("b_expires", type_=UTCDateTime)}
# The table's columns for a renewed lease, with the holder and expiry left as statement parameters.
_RENEWED = {column: _PARAMS.get(value, value) for column, value in state_columns(
    ItemState.PUBLISHING, {"lease_holder": _HOLDER_MARK, "lease_expires_at": _EXPIRES_MARK}).items()}
_PUBLISHED_COLUMNS = state_columns(ItemState.PUBLISHED, {})

# Built once: building SQLAlchemy statements costs more CPU per post than running them.
_HOLD = (
    update(items)
    .where(items.c.id == bindparam("b_item_id"), items.c.state == ItemState.PUBLISHING,
           items.c.lease_holder == bindparam("b_holder"))
    .values(updated_at=bindparam("b_now", type_=UTCDateTime), **_RENEWED)
    .returning(items.c.account)
)
_RECORD = (
    update(posts)
    .where(posts.c.item_id == bindparam("b_item_id"), posts.c.idx == bindparam("b_index"),
           posts.c.state != PostState.POSTED)
    .values(state=PostState.POSTED, remote_id=bindparam("b_remote_id"), url=bindparam("b_url"),
            posted_at=bindparam("b_posted_at", type_=UTCDateTime))
)
_HISTORY = attempts.insert().values(
    item_id=bindparam("b_item_id"), account=bindparam("b_account"), at=bindparam("b_now", type_=UTCDateTime),
    post_index=bindparam("b_index"), outcome="posted", message=None, remote_id=bindparam("b_remote_id"),
)
_MARK_NEXT = (
    update(posts)
    .where(posts.c.item_id == bindparam("b_item_id"), posts.c.idx == bindparam("b_next_index"),
           posts.c.state != PostState.POSTED)
    .values(state=PostState.UNKNOWN, sent_at=func.coalesce(posts.c.sent_at, bindparam("b_now", type_=UTCDateTime)))
)
_PUBLISHED = (
    update(items)
    .where(items.c.id == bindparam("b_item_id"), items.c.state == ItemState.PUBLISHING,
           ~exists().where(posts.c.item_id == items.c.id, posts.c.state != PostState.POSTED))
    .values(last_error=None, **_PUBLISHED_COLUMNS)
)


class _Undo(Exception):
    """Roll the hot-path transaction back: the general path will handle this post."""


class HotPathMixin(StoreBase):
    """`record_and_continue`: the one-commit-per-post path of the publisher."""

    def record_and_continue(
        self,
        item_id: int,
        index: int,
        remote_id: str,
        url: str | None,
        posted_at: datetime,
        *,
        holder: str,
        lease: timedelta,
        next_index: int | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record post `index` as `remote_id` and, in the same durable commit, renew `holder`'s
        lease and mark post `next_index` as being sent (or, with no `next_index`, make the item
        published when every post is recorded). True when done; False, changing nothing, when
        `holder` does not hold the item, the post is already recorded or a post is missing —
        then use `record_post` and `mark_sending`, which explain."""
        now = self._now(now)
        params = {"b_item_id": item_id, "b_holder": holder, "b_now": now, "b_expires": now + lease,
                  "b_index": index, "b_remote_id": str(remote_id), "b_url": url,
                  "b_posted_at": as_utc(posted_at, "posted_at"), "b_next_index": next_index}
        try:
            with self._write(durable=True) as conn:
                account = conn.execute(_HOLD, params).scalar()
                if account is None or conn.execute(_RECORD, params).rowcount != 1:
                    raise _Undo
                conn.execute(_HISTORY, {**params, "b_account": account})
                if next_index is not None:
                    if conn.execute(_MARK_NEXT, params).rowcount != 1:
                        raise _Undo
                else:
                    conn.execute(_PUBLISHED, params)
        except _Undo:
            return False
        return True
