"""Desk test helpers and fixtures: a campaign that needs review, real `crieur` processes, one Chromium per session."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

CAMPAIGN = """\
name: desk
timezone: Europe/Paris
lang: en
review: required
accounts:
  desk-x:
    platform: dryrun
    as: x
  desk-masto:
    platform: dryrun
    as: mastodon
    offset: 2m
sources:
  files: ["articles/*.txt"]
schedule:
  slots: ["30 9 * * *", "0 15 * * *"]
  spacing: 10ms
grace: 1h
"""

ARTICLES = {
    "harbour.txt": (
        "Harbour council backs wind port\n\n"
        "The harbour council approved a plan on Tuesday to turn the disused coal terminal into an assembly "
        "base for offshore wind turbines, ending two years of hearings that split the town.\n\n"
        "The vote, taken shortly after 1 a.m., passed by seven to four. Opponents say the dredging will "
        "disturb spawning grounds in the bay.\n\n#Harbour #WindPort\n"
    ),
    "bridge.txt": (
        "Old bridge closes for repairs\n\n"
        "The old stone bridge closes on Monday for six weeks of repairs to its arches, the city said, "
        "and buses will take the ring road meanwhile.\n\n"
        "Cyclists and walkers may still cross on a temporary footway on the north side.\n"
    ),
    "market.txt": (
        "Saturday market moves to the square\n\n"
        "From next month the Saturday market moves from the car park to the cathedral square, where "
        "forty stalls will have room under the plane trees.\n"
    ),
}


@dataclass
class DeskFiles:
    root: Path
    campaign: Path
    db: Path
    db_url: str = ""  # the store actually used (a PostgreSQL URL in the PostgreSQL runs)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("CRIEUR_DB", "CRIEUR_DESK_TOKEN")}
        env["PYTHONUNBUFFERED"] = "1"
        return env


@pytest.fixture
def desk_files(tmp_path: Path) -> DeskFiles:
    """A campaign with `review: required` (two dry-run accounts), its articles, and a store path."""
    (tmp_path / "articles").mkdir()
    for name, text in ARTICLES.items():
        (tmp_path / "articles" / name).write_text(text, encoding="utf-8")
    campaign = tmp_path / "desk.yaml"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    return DeskFiles(root=tmp_path, campaign=campaign, db=tmp_path / "queue" / "crieur.db")


def crieur(files: DeskFiles, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `crieur ARGS…` to the end in the test's folder."""
    done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=files.root, env=files.env(),
                          capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"crieur {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class Process:
    popen: subprocess.Popen[str]
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@pytest.fixture
def processes() -> Iterator[Callable[..., Process]]:
    """`start(files, name, *args, token=None)`: a long-running `crieur` child; all stopped after."""
    started: list[Process] = []

    def start(files: DeskFiles, name: str, *args: str, env: dict[str, str] | None = None) -> Process:
        log = files.root / f"{name}.log"
        handle = log.open("w", encoding="utf-8")
        popen = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=files.root,
                                 env={**files.env(), **(env or {})}, stdout=handle, stderr=subprocess.STDOUT, text=True)
        handle.close()
        process = Process(popen, log)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def desk_url(process: Process, timeout: float = 60.0) -> str:
    """The address a `crieur serve` child printed once it listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"desk: (http://\S+/)", process.text())
        if found:
            return found.group(1)
        if process.popen.poll() is not None:
            raise AssertionError(f"crieur serve exited {process.popen.returncode}:\n{process.text()}")
        time.sleep(0.1)
    raise AssertionError(f"crieur serve did not start:\n{process.text()}")


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Debian Chromium for the whole session, driven by Playwright."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"browser tests need {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()
