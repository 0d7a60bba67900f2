"""Time the desk: the week page over a store of 10,000 queued items (SQLite), and `crieur serve` start-up.

Usage: python benchmarks/serve.py [--items 10000] [--repeat 30] [--starts 5]
Targets: the week page answers in <= 150 ms (median); `crieur serve` answers its first request
in under a second after it is started.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.store import ItemState, open_store
from bot.store.schema import items, posts

WEEK_TARGET_MS = 150.0
START_TARGET_S = 1.0
ACCOUNTS = [("bench-x", "x"), ("bench-masto", "mastodon"), ("bench-bsky", "bluesky"), ("bench-dry", "dryrun")]
STATES = [ItemState.AWAITING_REVIEW, ItemState.SCHEDULED, ItemState.SCHEDULED, ItemState.SCHEDULED]
TEXTS = ["Le conseil du port a voté le plan éolien mardi soir, par sept voix contre quatre, après deux ans "
         "d'auditions qui ont divisé la ville. 1/3",
         "Les opposants disent que le dragage troublera les frayères de la baie. 2/3",
         "Le financement reste à boucler. https://example.org/a #Port #Éolien 3/3"]


def bulk_load(db: str, n: int, start: datetime, spread_hours: float) -> None:
    """`n` 3-post items over the accounts, one every `spread_hours` per account from `start`."""
    store = open_store(db)
    rows, post_rows = [], []
    for k in range(n):
        account, platform = ACCOUNTS[k % len(ACCOUNTS)]
        due = start + timedelta(hours=spread_hours * (k // len(ACCOUNTS)), minutes=2 * (k % len(ACCOUNTS)))
        state = STATES[k % len(STATES)]
        rows.append(dict(id=k + 1, campaign="bench", account=account, platform=platform, source=f"a/{k}.txt",
                         content_hash=f"h{k}", title=f"Article {k}: le port vote le plan éolien", lang="fr",
                         media=[], options={"profile": platform, "numbering": "suffix", "review": "required"},
                         state=state, due_at=due, slot_at=due, attempts=0, next_attempt_at=due,
                         ready_at=None if state == ItemState.AWAITING_REVIEW else due,
                         created_at=start, updated_at=start, version=0))
        for idx, text in enumerate(TEXTS, 1):
            post_rows.append(dict(item_id=k + 1, idx=idx, text=text, state="pending",
                                  idempotency_key=uuid.uuid4().hex))
    with store.engine.begin() as conn:
        for i in range(0, len(rows), 2000):
            conn.execute(items.insert(), rows[i:i + 2000])
        for i in range(0, len(post_rows), 6000):
            conn.execute(posts.insert(), post_rows[i:i + 6000])
    store.close()


def time_week(db: str, start_day: str, repeat: int) -> tuple[float, float, int]:
    """Median and p90 (ms) of GET /week?start=… through the whole ASGI app; the threads shown."""
    from starlette.testclient import TestClient

    from bot.web.app import Desk, create_app

    store = open_store(db)
    client = TestClient(create_app(Desk(store=store, campaigns={})), base_url="http://127.0.0.1")
    url = f"/week?start={start_day}"
    client.get(url)  # warm: templates compiled, connections pooled
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    shown = response.text.count('class="entry ') - response.text.count('class="entry free')
    store.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1], shown


def time_start(db: str, starts: int) -> list[float]:
    """Seconds from spawning `crieur serve --port 0` to its first answered /week request."""
    results = []
    for _ in range(starts):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--db", db, "--port", "0",
                                 "--config", "/nonexistent"], stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            found = re.search(r"(http://\S+/)", line)
            if not found:
                raise SystemExit(f"crieur serve did not start: {line}{proc.stderr.read()}")
            while True:
                try:
                    with urllib.request.urlopen(found.group(1) + "week", timeout=10) as answer:
                        answer.read()
                    break
                except OSError:
                    time.sleep(0.005)
            results.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    today = now.date().isoformat()
    print(f"desk benchmark: {args.items:,} items x 3 posts, {len(ACCOUNTS)} accounts, SQLite")
    with tempfile.TemporaryDirectory() as tmp:
        spread = Path(tmp) / "spread.db"
        bulk_load(str(spread), args.items, now, spread_hours=6)  # 4 threads a day per account: ~2 years
        median, p90, shown = time_week(str(spread), today, args.repeat)
        print(f"week page, queue spread over {args.items // len(ACCOUNTS) // 4} days: median {median:.1f} ms, "
              f"p90 {p90:.1f} ms ({shown} threads on the page)  target <= {WEEK_TARGET_MS:.0f} ms: "
              f"{'met' if median <= WEEK_TARGET_MS else 'NOT met'}")
        dense = Path(tmp) / "dense.db"
        week_hours = 7 * 24 / (args.items / len(ACCOUNTS))
        bulk_load(str(dense), args.items, now, spread_hours=week_hours)  # every item in the same week
        median, p90, shown = time_week(str(dense), today, args.repeat)
        print(f"week page, all {args.items:,} items in one week (windowed): median {median:.1f} ms, p90 {p90:.1f} ms "
              f"({shown} threads on the page)  target <= {WEEK_TARGET_MS:.0f} ms: "
              f"{'met' if median <= WEEK_TARGET_MS else 'NOT met'}")
        starts = time_start(str(spread), args.starts)
        best, med = min(starts), statistics.median(starts)
        print(f"crieur serve start-up to first answered request: median {med:.2f} s, best {best:.2f} s  "
              f"target < {START_TARGET_S:.0f} s: {'met' if med < START_TARGET_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
