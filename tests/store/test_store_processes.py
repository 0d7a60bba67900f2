"""Two OS processes enqueueing for one account at the same moment: no shared slot, nothing lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from store_helpers import T0, at

from bot.store import ItemState

N = 40

WORKER = textwrap.dedent(
    """
    import sys, time
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone
    from pathlib import Path
    from bot.store import NewItem, open_store

    url, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])

    class Hourly:
        def next_slot(self, after):
            return after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)

    store = open_store(url)  # both processes may create the schema at once
    now = datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)
    while not go.exists():
        time.sleep(0.001)
    for i in range(n):
        new = NewItem("desk", "desk-x", "x", f"{name}-{i}.txt", "h", "t", [f"{name} {i} a", f"{name} {i} b"])
        assert store.enqueue(new, schedule=Hourly(), now=now).action == "queued"
        # the same article from both processes: exactly one of them queues it
        store.enqueue(replace(new, source=f"shared-{i}.txt"), schedule=Hourly(), now=now)
    store.close()
    """
)


def test_two_processes_enqueue_at_once(store_url, make_store, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, store_url, name, str(N), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("p1", "p2")
    ]
    time.sleep(0.5)  # let both import and open the store, then release them together
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    store = make_store()
    items = store.list_items()
    sources = [i.source for i in items]
    assert len(items) == 3 * N  # N each, plus N shared articles queued once
    assert len(set(sources)) == len(sources)
    assert {f"p1-{i}.txt" for i in range(N)} | {f"p2-{i}.txt" for i in range(N)} <= set(sources)
    slots = sorted(i.slot_at for i in items)
    assert slots == [at(0.5 + k) for k in range(3 * N)]  # every slot used once, none skipped
    assert all(i.state == ItemState.SCHEDULED and len(i.posts) == 2 for i in items)
    assert T0 < slots[0]
