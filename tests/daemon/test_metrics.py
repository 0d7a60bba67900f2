"""`crieur run --metrics`: Prometheus metrics and /healthz scraped over real HTTP from a dry-run daemon."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "config/campaigns/example.yaml"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_and_health_during_a_dry_run(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "queue").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CRIEUR_DB"}
    articles = sorted(str(p) for p in (tmp_path / "config" / "articles").glob("*.txt"))
    queued = subprocess.run([sys.executable, "-m", "bot", "enqueue", CAMPAIGN, *articles, "--at", "now", "--dry-run"],
                            cwd=tmp_path, capture_output=True, text=True, env=env)
    assert queued.returncode == 0, queued.stderr
    items = queued.stdout.count(": queued (")
    posts = sum(int(n) for n in re.findall(r"queued \((\d+) posts?\)", queued.stdout))
    daemon = subprocess.Popen([sys.executable, "-m", "bot", "run", "--dry-run", "--metrics", "127.0.0.1:0", CAMPAIGN],
                              cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert daemon.stderr is not None
        for line in daemon.stderr:
            lines.append(line)
            if "metrics on http://" in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.wait(120), "".join(lines)
        base = re.search(r"metrics on (http://[\d.]+:\d+)/metrics", "".join(lines)).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=30) as response:
                    assert response.status == 200 and response.read() == b"ok\n"
                    break
            except urllib.error.HTTPError as error:  # 503 while the scheduler loop starts
                assert error.code == 503
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        while True:
            samples = scrape(base + "/metrics")
            if samples.get(("crieur_queue_items", (("state", "published"),))) == items:
                break
            assert daemon.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        published = {labels: v for (name, labels), v in samples.items() if name == "crieur_posts_published_total"}
        assert sum(published.values()) == posts
        assert (("account", "desk-dryrun-x"), ("platform", "dryrun")) in published
        assert samples[("crieur_attempts_total", (("outcome", "published"),))] == items
        assert samples[("crieur_lateness_seconds_count", ())] == items
        assert samples[("crieur_platform_call_seconds_count", (("call", "publish"), ("platform", "dryrun")))] == posts
        assert samples[("crieur_queue_items", (("state", "scheduled"),))] == 0
        assert samples[("crieur_last_publish_timestamp_seconds", (("account", "desk-dryrun-x"),))] > 1.7e9
        assert ("crieur_rate_limit_pauses_total", ()) not in samples  # labelled: none until one happens
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0


def test_a_bad_listen_address_is_bad_input(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    env = {k: v for k, v in os.environ.items() if k != "CRIEUR_DB"}
    done = subprocess.run([sys.executable, "-m", "bot", "run", "--dry-run", "--once", "--metrics", "localhost", CAMPAIGN],
                          cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "expected HOST:PORT" in done.stderr and "Traceback" not in done.stderr
