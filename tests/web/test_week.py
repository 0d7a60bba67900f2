"""The week board's query on SQLite and PostgreSQL: the window, the states shown, free slots, the cap."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.store import NewItem, open_store
from bot.testing import postgres_schema
from bot.web import week as week_module
from bot.web.week import week_board

UTC = ZoneInfo("UTC")
START = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday


class Daily:
    """9:00 and 15:00 UTC every day: the shape of `Schedule.next_slot(after, account)`."""

    def next_slot(self, after: datetime, account: object = None) -> datetime:
        day = after.astimezone(timezone.utc).date()
        for offset in range(3):
            for hour in (9, 15):
                slot = datetime.combine(day + timedelta(days=offset), time(hour), timezone.utc)
                if slot > after:
                    return slot
        raise AssertionError("unreachable")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    if request.param == "sqlite":
        opened = open_store(str(tmp_path / "q.db"))
        yield opened
        opened.close()
        return
    base = os.environ.get("CRIEUR_TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL tests need CRIEUR_TEST_DATABASE_URL")
    with postgres_schema(base, "crieur_week") as url:
        opened = open_store(url)
        yield opened
        opened.close()


def _new(source: str, **changes: object) -> NewItem:
    base = NewItem(campaign="desk", account="desk-x", platform="x", source=source, content_hash="h",
                   title=f"Title of {source}", posts=["First words of the thread. 1/2", "Second. 2/2"],
                   options={"profile": "x"})
    return replace(base, **changes)


def _campaign() -> object:
    account = SimpleNamespace(name="desk-x", platform="x", profile="x", settings={})
    return SimpleNamespace(accounts={"desk-x": account}, schedule=Daily(), timezone=UTC)


def test_the_week_shows_threads_in_order_with_free_slots(store) -> None:
    schedule = SimpleNamespace(next_slot=lambda after: Daily().next_slot(after))
    first = store.enqueue(_new("a.txt"), schedule=schedule, now=START).item  # Mon 9:00
    second = store.enqueue(_new("b.txt", options={"profile": "x", "review": "required"}), schedule=schedule,
                           now=START).item  # Mon 15:00, awaiting review
    gone = store.enqueue(_new("c.txt"), schedule=schedule, now=START).item  # Tue 9:00, then cancelled
    store.cancel(gone.id, now=START)
    later = store.enqueue(_new("d.txt"), at=START + timedelta(days=9), now=START).item  # next week
    board = week_board(store, {"desk": _campaign()}, START.date(), UTC, now=START)
    monday = board.days[0].entries
    assert [(e.item_id, e.state) for e in monday] == [(first.id, "scheduled"), (second.id, "awaiting_review")]
    assert monday[0].first_words == "First words of the thread. 1/2" and monday[0].posts == 2
    tuesday = board.days[1].entries
    assert [e.free for e in tuesday] == [True, True]  # the cancelled thread's slot is free again
    all_ids = {e.item_id for d in board.days for e in d.entries}
    assert later.id not in all_ids and gone.id not in all_ids
    assert board.counts == {"scheduled": 1, "awaiting_review": 1}
    assert sum(1 for d in board.days for e in d.entries if e.free) == 14 - 2


def test_the_board_is_capped_and_says_how_many_more(store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(week_module, "MAX_ROWS", 5)
    for n in range(8):
        store.enqueue(_new(f"{n}.txt"), at=START + timedelta(hours=n + 1), now=START)
    board = week_board(store, {}, START.date(), UTC, now=START)
    assert board.shown == 5 and board.more == 3
    assert sum(len(d.entries) for d in board.days) == 5
