"""Figures of `crieur run`: lateness after the due time, dry-run throughput, platform-bound throughput,
and the cost of an idle daemon.

Run: python benchmarks/daemon.py [--quick] [--only lateness|throughput|latency|idle] [--pg URL]
Each figure runs a real `crieur run` subprocess on a fresh SQLite store in a temporary directory
(and, for `latency` with --pg, on a fresh PostgreSQL schema), with dry-run accounts (no network).
The queue is filled straight into the tables (bulk inserts): how fast `crieur enqueue` is belongs
to benchmarks/store.py, not here.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.store import open_store
from bot.store.schema import items, posts

ACCOUNTS = ["d1", "d2", "d3", "d4"]
CAMPAIGN = """\
name: bench
timezone: UTC
accounts:
{accounts}
schedule:
  slots: ["0 9 * * *"]
  spacing: 0s
grace: 1h
"""


def write_campaign(folder: Path, accounts: list[str] | None = None, latency: str | None = None) -> Path:
    path = folder / "bench.yaml"
    extra = f"\n    latency: {latency}" if latency else ""
    lines = "\n".join(f"  {a}:\n    platform: dryrun\n    as: mastodon{extra}" for a in accounts or ACCOUNTS)
    path.write_text(CAMPAIGN.format(accounts=lines), encoding="utf-8")
    return path


def bulk_fill(db: Path | str, due_times: list[datetime], posts_per_item: int = 1,
              accounts: list[str] | None = None) -> None:
    """Insert one scheduled item per due time (accounts round-robin), `posts_per_item` posts each."""
    accounts = accounts or ACCOUNTS
    store = open_store(str(db))
    now = datetime.now(timezone.utc)
    try:
        with store.engine.begin() as conn:
            first = (conn.execute(select(func.max(items.c.id))).scalar() or 0) + 1
            item_rows, post_rows = [], []
            for n, due in enumerate(due_times):
                item_id = first + n
                item_rows.append(dict(
                    id=item_id, campaign="bench", account=accounts[n % len(accounts)], platform="dryrun",
                    source=f"bench-{item_id}", content_hash=f"h{item_id}", title=f"item {item_id}", lang="en",
                    media=[], options={}, state="scheduled", due_at=due, slot_at=None, attempts=0,
                    next_attempt_at=due, ready_at=due, created_at=now, updated_at=now))
                post_rows += [dict(item_id=item_id, idx=i, text=f"bench item {item_id} post {i}", state="pending",
                                   idempotency_key=uuid.uuid4().hex) for i in range(1, posts_per_item + 1)]
            for start in range(0, len(item_rows), 5000):
                conn.execute(insert(items), item_rows[start:start + 5000])
            for start in range(0, len(post_rows), 5000):
                conn.execute(insert(posts), post_rows[start:start + 5000])
    finally:
        store.close()


def start_daemon(folder: Path, campaign: Path, db: Path | str, *extra: str,
                 log_path: Path | None = None) -> subprocess.Popen[bytes]:
    log = (log_path or Path(str(db)).with_suffix(".log")).open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot", "run", "--dry-run", str(campaign), "--db", str(db), *extra],
                            cwd=folder, stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def posted(db: Path | str) -> list[tuple[datetime, datetime]]:
    """(due_at, posted_at) of every posted post."""
    store = open_store(str(db))
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(select(items.c.due_at, posts.c.posted_at)
                                .join(posts, posts.c.item_id == items.c.id)
                                .where(posts.c.posted_at.is_not(None))).all()
    finally:
        store.close()
    return [(r[0], r[1]) for r in rows]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def lateness(folder: Path, count: int, every: float) -> None:
    campaign, db = write_campaign(folder), folder / "lateness.db"
    # Due from 2 s after now (the daemon's start-up), one every `every` seconds.
    start = datetime.now(timezone.utc) + timedelta(seconds=2)
    bulk_fill(db, [start + timedelta(seconds=every * n) for n in range(count)])
    proc = start_daemon(folder, campaign, db)
    deadline = time.monotonic() + 2 + every * count + 30
    while len(done := posted(db)) < count and time.monotonic() < deadline:
        time.sleep(0.25)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    late = [(p - d).total_seconds() for d, p in done]
    print(f"lateness: {len(late)}/{count} posts due every {every * 1000:.0f} ms over {every * count:.0f} s: "
          f"median {statistics.median(late) * 1000:.0f} ms, p99 {percentile(late, 99) * 1000:.0f} ms, "
          f"max {max(late) * 1000:.0f} ms (target p99 < 1000 ms)")


def throughput(folder: Path, count: int) -> None:
    campaign, db = write_campaign(folder), folder / "throughput.db"
    bulk_fill(db, [datetime.now(timezone.utc) - timedelta(seconds=1)] * count, posts_per_item=10)
    started = time.monotonic()
    code = subprocess.run([sys.executable, "-m", "bot", "run", "--dry-run", "--once", str(campaign), "--db", str(db)],
                          cwd=folder, stdin=subprocess.DEVNULL, capture_output=True).returncode
    elapsed = time.monotonic() - started
    times = sorted(p for _, p in posted(db))
    sent = len(times)
    inside = (times[-1] - times[0]).total_seconds() if sent > 1 else float("nan")
    print(f"throughput: {sent}/{count * 10} posts ({count} threads of 10 on {len(ACCOUNTS)} accounts) in {elapsed:.1f} s "
          f"(exit {code}): {sent / elapsed:.0f} posts/s process start included; inside the running daemon "
          f"(first post to last) {(sent - 1) / inside:.0f} posts/s through the dry-run adapter (target >= 300/s, aim 500)")


def latency_bound(folder: Path, db: str, label: str, accounts: int = 40, posts_per_thread: int = 10,
                  latency: str = "150ms") -> None:
    """40 accounts x one 10-post thread due at the same moment, each platform call answered after 150 ms:
    how long after the due time the last thread is complete (target: within 3 s; the floor is 10 x 150 ms)."""
    names = [f"acct{n:02d}" for n in range(accounts)]
    campaign = write_campaign(folder, names, latency)
    due = datetime.now(timezone.utc) + timedelta(seconds=6)  # after the daemon's start-up
    bulk_fill(db, [due] * accounts, posts_per_item=posts_per_thread, accounts=names)
    proc = start_daemon(folder, campaign, db, log_path=folder / f"latency-{label}.log")
    total = accounts * posts_per_thread
    deadline = time.monotonic() + 120
    while len(done := posted(db)) < total and time.monotonic() < deadline:
        time.sleep(0.25)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    if not done:
        print(f"latency ({label}): nothing posted; see the log")
        return
    last = max(p for _, p in done)
    first = min(p for _, p in done)
    print(f"latency-bound ({label}): {len(done)}/{total} posts ({accounts} accounts x {posts_per_thread}-post threads, "
          f"{latency} per call, spacing 0): first post {(first - due).total_seconds():.2f} s after due, all done "
          f"{(last - due).total_seconds():.2f} s after due (target <= 3 s; floor {posts_per_thread} x {latency})")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def idle(folder: Path, count: int, seconds: float) -> None:
    campaign, db = write_campaign(folder), folder / "idle.db"
    later = datetime.now(timezone.utc) + timedelta(days=1)
    bulk_fill(db, [later + timedelta(seconds=n) for n in range(count)])
    proc = start_daemon(folder, campaign, db)
    log = db.with_suffix(".log")
    started = time.monotonic()
    while "found " not in log.read_text(errors="replace") and time.monotonic() - started < 120:
        time.sleep(0.1)
    ready = time.monotonic() - started
    time.sleep(1)
    cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
    time.sleep(seconds)
    cpu = (_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
    rss, peak = _status_kb(proc.pid, "VmRSS") / 1024, _status_kb(proc.pid, "VmHWM") / 1024
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    print(f"idle: {count} items scheduled, ready after {ready:.1f} s; over {seconds:.0f} s: CPU {cpu * 100:.2f} %, "
          f"RSS {rss:.0f} MB (peak {peak:.0f} MB) (target < 1 % CPU, < 100 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a minute in all)")
    parser.add_argument("--only", choices=["lateness", "throughput", "latency", "idle"])
    parser.add_argument("--pg", metavar="URL", help="also run the latency-bound figure on PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crieur-bench-") as tmp:
        folder = Path(tmp)
        if args.only in (None, "lateness"):
            lateness(folder, 100 if args.quick else 200, 0.05)
        if args.only in (None, "throughput"):
            throughput(folder, 100 if args.quick else 1000)
        if args.only in (None, "latency"):
            # Each run in its own folder: the dry-run adapters read their JSON-lines file at start,
            # and the throughput run's 10,000 lines would be counted against this figure.
            (folder / "lat-sqlite").mkdir()
            latency_bound(folder / "lat-sqlite", str(folder / "lat-sqlite" / "latency.db"), "SQLite")
            if args.pg:
                from bot.testing import postgres_schema

                (folder / "lat-pg").mkdir()
                with postgres_schema(args.pg, "crieur_bench") as url:
                    latency_bound(folder / "lat-pg", url, "PostgreSQL")
        if args.only in (None, "idle"):
            idle(folder, 20_000 if args.quick else 100_000, 10 if args.quick else 60)


if __name__ == "__main__":
    main()
