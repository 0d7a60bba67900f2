"""`together`: one article's threads on several accounts take one slot time (within a tolerance)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from store_helpers import T0, Hourly, new_item


class Offset(Hourly):
    """Hourly, shifted by an account offset (as AccountSchedule does), and saying so."""

    def __init__(self, minutes: int) -> None:
        self.offset = timedelta(minutes=minutes)

    def next_slot(self, after: datetime) -> datetime:
        return super().next_slot(after - self.offset) + self.offset


def _queue(store, source, accounts, *, together=None, now=T0):
    batch = [(new_item(source, account=name), schedule) for name, schedule in accounts.items()]
    return {o.item.account: o.item.due_at for o in store.enqueue_many(batch, now=now, together=together)}


def test_threads_of_one_article_share_the_first_slot_free_on_all_accounts(store) -> None:
    accounts = {"desk-x": Offset(0), "desk-m": Offset(2), "desk-b": Offset(4)}
    _queue(store, "a1.txt", {"desk-x": accounts["desk-x"]})  # desk-x has two threads queued already
    _queue(store, "a2.txt", {"desk-x": accounts["desk-x"]})
    apart = _queue(store, "a3.txt", accounts)  # without together: each its own next slot
    assert apart["desk-x"] - timedelta(minutes=0) != apart["desk-m"] - timedelta(minutes=2)

    together = _queue(store, "a4.txt", accounts, together=timedelta(0))
    nine = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)  # desk-x: 9, 10, 11 taken -> 12 for all
    assert together == {"desk-x": nine, "desk-m": nine + timedelta(minutes=2), "desk-b": nine + timedelta(minutes=4)}

    # The slots desk-m and desk-b skipped are not lost: their next threads take them.
    later = _queue(store, "a5.txt", {"desk-m": accounts["desk-m"]})
    assert later["desk-m"] == datetime(2026, 3, 2, 10, 2, tzinfo=timezone.utc)


def test_a_tolerance_lets_accounts_keep_a_near_slot(store) -> None:
    accounts = {"desk-x": Offset(0), "desk-m": Offset(0)}
    _queue(store, "a1.txt", {"desk-x": accounts["desk-x"]})
    got = _queue(store, "a2.txt", accounts, together=timedelta(minutes=90))
    # desk-x's next is 10:00, desk-m's 09:00: within 90 minutes, so each keeps its own.
    assert got == {"desk-x": datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc),
                   "desk-m": datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)}
    tight = _queue(store, "a3.txt", accounts, together=timedelta(minutes=30))
    assert tight == {"desk-x": datetime(2026, 3, 2, 11, 0, tzinfo=timezone.utc),
                     "desk-m": datetime(2026, 3, 2, 11, 0, tzinfo=timezone.utc)}
