"""Several nodes on PostgreSQL, and a store connection that drops or freezes (through a TCP proxy)."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from daemon_helpers import assert_no_overlap, check_threads
from tcp_proxy import TcpProxy

from bot.store import ItemState, NewItem, open_store

pytestmark = pytest.mark.postgres


def fill(url: str, account: str, platform: str, threads: int, posts: int, campaign: str = "nodes") -> None:
    store = open_store(url)
    now = datetime.now(timezone.utc)
    try:
        for n in range(threads):
            store.enqueue(NewItem(campaign=campaign, account=account, platform=platform, source=f"t{n}",
                                  content_hash=f"h{n}", title=f"thread {n}", lang="en",
                                  posts=[f"thread {n} post {i} of {account}" for i in range(1, posts + 1)]),
                          at=now - timedelta(seconds=threads - n))
    finally:
        store.close()


def wait_published(url: str, timeout: float, daemons: list[Any]) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        store = open_store(url)
        try:
            items = store.list_items()
        finally:
            store.close()
        if items and all(i.state == ItemState.PUBLISHED for i in items):
            return items
        for d in daemons:
            assert d.proc.poll() is None, f"a daemon exited:\n{d.output()}"
        assert time.monotonic() < deadline, "not all published:\n" + "\n".join(d.output()[-3000:] for d in daemons)
        time.sleep(0.2)


def test_two_nodes_publish_one_accounts_threads_one_after_another(tmp_path: Path, platforms, daemons,
                                                                   pg_url: str) -> None:
    fakes = platforms(m1="mastodon")
    campaign = tmp_path / "nodes.yaml"
    campaign.write_text(fakes.campaign_yaml("nodes", spacing="60ms"), encoding="utf-8")
    fill(pg_url, "m1", "mastodon", threads=6, posts=4)
    nodes = [daemons(str(campaign), "--db", pg_url, "--lease", "5s", cwd=tmp_path, env=fakes.env,
                     log=tmp_path / f"node{n}.log") for n in range(2)]
    items = wait_published(pg_url, 90, nodes)
    for node in nodes:
        node.wait_for_output("found ")
        node.signal(signal.SIGTERM)
    for node in nodes:
        assert node.wait(timeout=20) == 0, node.output()
    check_threads(pg_url, fakes.servers)
    assert_no_overlap(fakes.servers["m1"], items)


def _proxied(pg_url: str, proxy: TcpProxy, extra: str = "") -> str:
    parts = urlsplit(pg_url)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0] + "@" if len(netloc) == 2 else ""
    query = parts.query + ("&" if parts.query else "") + extra if extra else parts.query
    return parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}", query=query).geturl()


def _target(pg_url: str) -> tuple[str, int]:
    parts = urlsplit(pg_url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def test_a_dropped_store_connection_is_waited_out_in_one_line_and_costs_no_attempt(
        tmp_path: Path, platforms, daemons, pg_url: str) -> None:
    fakes = platforms(m1="mastodon")
    campaign = tmp_path / "nodes.yaml"
    campaign.write_text(fakes.campaign_yaml("nodes", spacing="300ms"), encoding="utf-8")
    fill(pg_url, "m1", "mastodon", threads=3, posts=5)
    with TcpProxy(*_target(pg_url)) as proxy:
        node = daemons(str(campaign), "--db", _proxied(pg_url, proxy), "--lease", "3s", cwd=tmp_path,
                       env=fakes.env, log=tmp_path / "node.log")
        node.wait_for_output("posted 2/5", timeout=30)
        proxy.drop()
        node.wait_for_output("store unavailable:", timeout=30)
        time.sleep(3)
        proxy.restore()
        items = wait_published(pg_url, 90, [node])
        node.wait_for_output("store reachable again")
        node.signal(signal.SIGTERM)
        assert node.wait(timeout=20) == 0, node.output()
    out = node.output()
    assert out.count("store unavailable:") <= 2, out  # one line per cause, not one per retry
    assert "Traceback" not in out and "INSERT" not in out and "UPDATE" not in out and "SELECT" not in out, out
    assert all(i.attempts == 0 for i in items), [(i.id, i.attempts, i.last_error) for i in items]
    check_threads(pg_url, fakes.servers)
    assert_no_overlap(fakes.servers["m1"], items)


def test_a_node_frozen_on_its_store_is_taken_over_and_sigterm_does_not_hang(
        tmp_path: Path, platforms, daemons, pg_url: str) -> None:
    fakes = platforms(m1="mastodon")
    campaign = tmp_path / "nodes.yaml"
    campaign.write_text(fakes.campaign_yaml("nodes", spacing="300ms"), encoding="utf-8")
    fill(pg_url, "m1", "mastodon", threads=3, posts=5)
    with TcpProxy(*_target(pg_url)) as proxy:
        frozen_url = _proxied(pg_url, proxy, "idle_in_transaction_session_timeout=2s")
        a = daemons(str(campaign), "--db", frozen_url, "--lease", "2s", cwd=tmp_path, env=fakes.env,
                    log=tmp_path / "a.log")
        a.wait_for_output("posted 2/5", timeout=30)
        proxy.freeze()
        b = daemons(str(campaign), "--db", pg_url, "--lease", "2s", cwd=tmp_path, env=fakes.env,
                    log=tmp_path / "b.log")
        items = wait_published(pg_url, 90, [b])
        started = time.monotonic()
        a.signal(signal.SIGTERM)
        a.wait(timeout=45)
        assert time.monotonic() - started < 40, a.output()
        b.wait_for_output("found ")
        b.signal(signal.SIGTERM)
        assert b.wait(timeout=20) == 0, b.output()
    check_threads(pg_url, fakes.servers)
    assert_no_overlap(fakes.servers["m1"], items)
