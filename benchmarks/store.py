"""Time `enqueue` and "claim the next due item" in a store holding 100,000 items, on SQLite and PostgreSQL.

Usage: python benchmarks/store.py [--items 100000] [--repeat 200] [--pg URL] [--sqlite PATH]
PostgreSQL runs when --pg or CRIEUR_TEST_DATABASE_URL gives a server (in a scratch schema, dropped
afterwards). Target: median under 5 ms for each operation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

from bot.store import NewItem, Store, open_store, resolve_store_url
from bot.store.schema import items, posts, slot_cursors

BASE = datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc)
TARGET_MS = 5.0
POSTS = ["Premier post du fil, d'une longueur ordinaire pour un réseau social. 1/3",
         "Deuxième post, qui continue l'article avec un lien https://example.org/a 2/3",
         "Troisième et dernier post #Ukraine #Europe 3/3"]


class Hourly:
    """Every hour on the hour: a stand-in for a campaign's schedule."""

    def next_slot(self, after: datetime) -> datetime:
        return after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def bulk_load(store: Store, n: int) -> None:
    """Insert `n` scheduled 3-post items for one account, one per hourly slot, as enqueue would."""
    chunk = 5_000
    with store.engine.begin() as conn:
        for start in range(0, n, chunk):
            rows = []
            for k in range(start, min(n, start + chunk)):
                slot = BASE + timedelta(hours=k + 1)
                rows.append(dict(
                    campaign="bench", account="bench-x", platform="x", source=f"articles/{k}.txt",
                    content_hash=f"{k:064x}", title=f"Article {k}", lang="fr", media=[], options={},
                    state="scheduled", due_at=slot, slot_at=slot, attempts=0, next_attempt_at=slot,
                    ready_at=slot, created_at=BASE, updated_at=BASE,
                ))
            ids = conn.execute(items.insert().returning(items.c.id, sort_by_parameter_order=True), rows).scalars().all()
            conn.execute(posts.insert(), [
                dict(item_id=i, idx=j + 1, text=t, state="pending", idempotency_key=uuid.uuid4().hex)
                for i in ids for j, t in enumerate(POSTS)
            ])
        conn.execute(slot_cursors.insert().values(account="bench-x", last_slot_at=BASE + timedelta(hours=n)))
    if store.dialect == "postgresql":
        # Statistics for the planner, and a checkpoint so that flushing the bulk load's dirty
        # pages does not slow down the timed commits that follow.
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            try:
                conn.execute(text("CHECKPOINT"))
            except Exception:  # needs superuser (or pg_checkpoint); the figures are then noisier
                pass
    else:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def timed(fn: Callable[[int], object], repeat: int) -> list[float]:
    """Milliseconds of `repeat` calls of fn(i)."""
    out = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def report(name: str, ms: list[float], *, target: bool = True) -> bool:
    """Print median/p90/max; with `target`, whether the median is under TARGET_MS (returned)."""
    ms_sorted = sorted(ms)
    med = statistics.median(ms)
    p90 = ms_sorted[max(0, int(len(ms) * 0.9) - 1)]
    ok = med < TARGET_MS or not target
    verdict = ("ok" if ok else "OVER TARGET") if target else ""
    print(f"  {name:<36} median {med:6.3f} ms   p90 {p90:6.3f} ms   max {ms_sorted[-1]:7.3f} ms   {verdict}")
    return ok


def run(label: str, url: str, n: int, repeat: int) -> bool:
    print(f"{label}: {n:,} items")
    store = open_store(url)
    try:
        t = time.perf_counter()
        bulk_load(store, n)
        print(f"  bulk load                            {time.perf_counter() - t:6.1f} s")
        now = BASE
        ok = True
        ok &= report("enqueue (next slot, new article)", timed(
            lambda i: store.enqueue(NewItem("bench", "bench-x", "x", f"new/{i}.txt", f"h{i}", "t", POSTS),
                                    schedule=Hourly(), now=now), repeat))
        ok &= report("enqueue (duplicate)", timed(
            lambda i: store.enqueue(NewItem("bench", "bench-x", "x", f"articles/{i}.txt", f"{i:064x}", "t", POSTS),
                                    schedule=Hourly(), now=now), repeat))
        # 1,000 hours in: ~1,000 items due, 99,000+ in the future; each call claims the next one.
        claim_at = BASE + timedelta(hours=1000)
        ok &= report("claim_due (next due item)", timed(
            lambda i: store.claim_due(claim_at, "bench-node", timedelta(seconds=30)), repeat))
        ok &= report("claim_due (nothing due)", timed(
            lambda i: store.claim_due(BASE, "bench-node", timedelta(seconds=30)), repeat))
        # The items claimed above are publishing: record their posts (durable commits, see engine.py).
        claimed = [i for i in store.list_items(state="publishing")][:repeat]
        refs = [(it.id, p.index) for it in claimed for p in it.posts][:repeat]
        report("record_post (durable commit; info)", timed(
            lambda i: store.record_post(refs[i][0], refs[i][1], f"r{i}", None, claim_at, now=claim_at), len(refs)),
            target=False)
        ok &= report("next_due_at", timed(lambda i: store.next_due_at(claim_at), repeat))
        with store.engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM items")).scalar_one()
        print(f"  items in the store at the end         {count:,}")
        return ok
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--sqlite", type=Path, help="SQLite file to create (default: a temporary one)")
    parser.add_argument("--pg", default=os.environ.get("CRIEUR_TEST_DATABASE_URL"), help="PostgreSQL URL")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = args.sqlite or Path(tmp) / "bench.db"
        if path.exists():
            sys.exit(f"{path} exists; give a new file")
        ok &= run(f"SQLite ({path})", str(path), args.items, args.repeat)
    if args.pg:
        base = resolve_store_url(args.pg)
        schema = f"crieur_bench_{os.getpid()}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in base else "?"
            ok &= run("PostgreSQL", f"{base}{sep}options={quote(f'-csearch_path={schema}')}", args.items, args.repeat)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    else:
        print("PostgreSQL: skipped (give --pg URL or set CRIEUR_TEST_DATABASE_URL)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
