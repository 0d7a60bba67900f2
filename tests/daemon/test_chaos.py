"""Chaos: `crieur run` killed with SIGKILL at random moments and restarted; nothing twice, every chain intact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from daemon_helpers import assert_no_overlap, check_threads, platform_of

from bot.store import ItemState, NewItem, open_store

SEED = int(os.environ.get("CRIEUR_CHAOS_SEED", "20251125"))
THREADS, POSTS, KILLS = 20, 8, 12
# m2 is on a server as strict as Hollo (JSON booleans, true/false queries, UUID ids, Markdown).
ACCOUNTS = {"m1": "mastodon", "m2": "mastodon-hollo", "x1": "x", "x2": "x"}
FINISH_WITHIN = 120.0  # seconds after the last restart


def _fill(url: str, campaign: str) -> None:
    """20 threads of 8 posts, spread over the accounts, all due now (slots in the recent past)."""
    store = open_store(url)
    now = datetime.now(timezone.utc)
    names = list(ACCOUNTS)
    try:
        for n in range(THREADS):
            account = names[n % len(names)]
            texts = [f"chaos thread {n} post {i}/{POSTS} on {account}" for i in range(1, POSTS + 1)]
            store.enqueue(
                NewItem(campaign=campaign, account=account, platform=platform_of(ACCOUNTS[account]), source=f"chaos-{n}",
                        content_hash=f"h{n}", title=f"thread {n}", posts=texts, lang="en"),
                at=now - timedelta(seconds=THREADS - n),
            )
    finally:
        store.close()


def _all_published(url: str) -> bool:
    store = open_store(url)
    try:
        return all(i.state == ItemState.PUBLISHED for i in store.list_items())
    finally:
        store.close()


def _chaos(tmp_path: Path, platforms, daemons, url: str, *, nodes: int, lease: str,  # noqa: ANN001
           spacing: str = "150ms") -> None:
    fakes = platforms(**ACCOUNTS)
    campaign = tmp_path / "chaos.yaml"
    # Spacing long enough that the kills land inside threads; a short backoff for whatever fails.
    campaign.write_text(fakes.campaign_yaml("chaos", spacing=spacing,
                                            retry="{max_attempts: 20, initial: 100ms, maximum: 1s}"),
                        encoding="utf-8")
    _fill(url, "chaos")
    rng = random.Random(SEED)
    args = (str(campaign), "--db", url, "--lease", lease)
    logs: list[Path] = []

    def start(node: int):  # noqa: ANN202
        logs.append(tmp_path / f"node{node}-{len(logs)}.log")
        return daemons(*args, cwd=tmp_path, env=fakes.env, log=logs[-1])

    running = [start(n) for n in range(nodes)]
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.2, 1.2))
        victim = rng.randrange(nodes)
        running[victim].kill()
        running[victim] = start(victim)

    deadline = time.monotonic() + FINISH_WITHIN
    while not _all_published(url):
        dead = [d for d in running if d.proc.poll() is not None]
        assert not dead, f"seed {SEED}: a daemon exited:\n{dead[0].output()}"
        assert time.monotonic() < deadline, f"seed {SEED}: not finished in {FINISH_WITHIN} s:\n{running[0].output()}"
        time.sleep(0.2)
    for daemon in running:
        # A daemon restarted a moment ago may still be importing, before its handlers exist.
        daemon.wait_for_output("found ")
        daemon.signal(signal.SIGTERM)
    for daemon in running:
        # Generous: on a machine busy with other work a stop can take a while; what matters is
        # that it stops, with exit code 0 (the log is shown if it does not).
        try:
            code = daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"seed {SEED}: no exit 60 s after SIGTERM:\n{daemon.output()}") from None
        assert code == 0, daemon.output()

    items = check_threads(url, fakes.servers)  # on the servers: each post once, each chain intact
    assert len(items) == THREADS and all(len(i.posts) == POSTS for i in items)
    assert {i.state for i in items} == {ItemState.PUBLISHED}
    assert sum(len(s.posts()) for s in fakes.servers.values()) == THREADS * POSTS
    # One thread per account at a time, through every kill and takeover: no two threads interleave.
    for account, server in fakes.servers.items():
        assert_no_overlap(server, [i for i in items if i.account == account])
    tracebacks = [p.name for p in logs if "Traceback" in p.read_text(encoding="utf-8", errors="replace")]
    assert not tracebacks, f"seed {SEED}: tracebacks in {tracebacks}"


def test_sigkill_chaos_on_sqlite_with_one_daemon(tmp_path: Path, platforms, daemons) -> None:
    _chaos(tmp_path, platforms, daemons, str(tmp_path / "queue" / "crieur.db"), nodes=1, lease="30s")


def test_sigkill_chaos_without_spacing_one_commit_per_post(tmp_path: Path, platforms, daemons) -> None:
    """spacing 0s takes the one-commit-per-post path (record post i + write-ahead of post i+1)."""
    _chaos(tmp_path, platforms, daemons, str(tmp_path / "queue" / "crieur.db"), nodes=1, lease="30s", spacing="0s")


@pytest.mark.postgres
def test_sigkill_chaos_on_postgresql_with_two_daemons(tmp_path: Path, platforms, daemons, pg_url: str) -> None:
    _chaos(tmp_path, platforms, daemons, pg_url, nodes=2, lease="2s")
