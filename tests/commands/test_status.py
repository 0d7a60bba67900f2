"""`crieur status` end to end (real processes) on SQLite and PostgreSQL: daemon, accounts, counts, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.store import ItemState, open_store
from bot.testing import postgres_schema

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "config/campaigns/example.yaml"
ARTICLE = "config/articles/en-harbour-wind-port.txt"


def crieur(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CRIEUR_DB"}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "queue").mkdir()
    return tmp_path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, workdir: Path) -> Iterator[str]:
    """A store URL: a SQLite file in the work dir, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(workdir / "queue" / "status.db")
        return
    base = os.environ.get("CRIEUR_TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL tests need CRIEUR_TEST_DATABASE_URL")
    with postgres_schema(base, "crieur_status") as url:
        yield url


def status(db: str, cwd: Path) -> tuple[int, dict, str]:
    done = crieur("status", "--json", "--db", db, cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    text = crieur("status", "--db", db, cwd=cwd)
    assert text.returncode == done.returncode
    return done.returncode, json.loads(done.stdout), text.stdout


def test_no_store_is_a_one_line_error(workdir: Path) -> None:
    done = crieur("status", cwd=workdir)
    assert done.returncode == 2
    assert "no queue store" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_due_items_without_a_daemon_then_a_run_then_all_well(db: str, workdir: Path) -> None:
    assert crieur("enqueue", CAMPAIGN, ARTICLE, "--at", "now", "--db", db, cwd=workdir).returncode == 0
    code, data, text = status(db, workdir)
    assert code == 1
    assert data["counts"]["scheduled"] == 3 and data["due_now"] == 3
    assert data["attention"] == ["3 items due and no daemon running"]
    assert "daemon: none has run on this store" in text
    assert [a["account"] for a in data["accounts"]][:3] == ["desk-dryrun-x", "desk-dryrun-mastodon",
                                                            "desk-dryrun-bluesky"]
    assert all(a["next_slot"] for a in data["accounts"])
    assert len(data["next_due"]) == 3 and "next threads due:" in text

    ran = crieur("run", "--dry-run", "--once", CAMPAIGN, "--db", db, cwd=workdir)
    assert ran.returncode == 0, ran.stderr
    code, data, text = status(db, workdir)
    assert code == 0, text
    assert data["counts"]["published"] == 3 and data["due_now"] == 0
    assert data["daemon_running"] is False
    last = data["daemons"][0]
    assert last["once"] and last["dry_run"] and last["stopped_at"]
    assert "daemon: not running (the last, on" in text and text.rstrip().endswith("all well")


def test_failures_and_held_accounts_need_a_person(db: str, workdir: Path) -> None:
    out = crieur("enqueue", CAMPAIGN, ARTICLE, "--at", "2031-01-06T09:00", "--db", db, cwd=workdir)
    assert out.returncode == 0, out.stderr
    store = open_store(db)
    try:
        first = store.list_items()[0]
        now = first.due_at - timedelta(days=1)
        holder = "test-holder"
        claimed = store.claim_due(first.due_at, holder, timedelta(seconds=30))
        assert claimed is not None
        store.post_failed(claimed.id, "mastodon rejected post 1 (too long)", final_state=ItemState.NEEDS_REVIEW,
                          index=1, holder=holder, now=now)
        store.pause_account("desk-dryrun-bluesky", None, "credentials refused; run crieur accounts resume")
        store.pause_account("desk-dryrun-x", first.due_at, "rate limited")  # lifts by itself: no person needed
    finally:
        store.close()
    code, data, text = status(db, workdir)
    assert code == 1
    assert data["attention"] == ["1 item needs review", "1 account paused until resumed"]
    problem = data["problems"][0]
    assert problem["id"] == first.id and "too long" in problem["last_error"]
    assert f"#{first.id} needs_review" in text and f"crieur queue show {first.id}" in text
    paused = {a["account"]: a for a in data["accounts"] if a["paused"]}
    assert set(paused) == {"desk-dryrun-bluesky", "desk-dryrun-x"}
    assert paused["desk-dryrun-bluesky"]["paused_until"] is None
    assert "paused until resumed: credentials refused" in text


def test_a_running_daemon_is_seen_with_its_node_and_heartbeat(db: str, workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CRIEUR_DB"}
    daemon = subprocess.Popen([sys.executable, "-m", "bot", "run", "--dry-run", CAMPAIGN, "--db", db],
                              cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            done = crieur("status", "--json", "--db", db, cwd=workdir)
            data = json.loads(done.stdout) if done.returncode in (0, 1) and done.stdout else None
            if data and data["daemon_running"]:
                break
            assert daemon.poll() is None, daemon.stderr.read() if daemon.stderr else ""
            assert time.monotonic() < deadline, "the daemon never showed up in crieur status"
            time.sleep(0.5)
        alive = [d for d in data["daemons"] if d["alive"]]
        assert len(alive) == 1 and alive[0]["pid"] == daemon.pid and not alive[0]["once"]
        text = crieur("status", "--db", db, cwd=workdir).stdout
        assert f"(pid {daemon.pid}) (dry run) since" in text and "last heartbeat" in text
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
    data = json.loads(crieur("status", "--json", "--db", db, cwd=workdir).stdout)
    assert not data["daemon_running"] and data["daemons"][0]["stopped_at"]


def test_dry_run_option_reads_the_dry_run_store(workdir: Path) -> None:
    assert crieur("enqueue", CAMPAIGN, ARTICLE, "--at", "2031-01-06T09:00", "--dry-run", cwd=workdir).returncode == 0
    done = crieur("status", "--dry-run", "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["store"].endswith("queue/dryrun.db") and data["counts"]["scheduled"] == 3
