"""Daemon test helpers: fake servers, campaign files, `crieur` subprocesses, a fresh PostgreSQL schema, checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The fakes are imported as `tests.fakes.…`: make the repository root importable.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.testing import postgres_schema  # noqa: E402
from tests.fakes.fake_bluesky import FakeBluesky  # noqa: E402
from tests.fakes.fake_mastodon import FakeMastodon  # noqa: E402
from tests.fakes.fake_x import FakeX  # noqa: E402

PG_ENV = "CRIEUR_TEST_DATABASE_URL"


@dataclass
class Platforms:
    """Fake servers by account name, the campaign file serving them and the environment holding
    their credentials (campaigns only name `${VAR}`s, as real ones do)."""

    servers: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)

    def campaign_yaml(self, name: str = "e2e", *, spacing: str = "10ms", grace: str = "1h",
                      retry: str = "{max_attempts: 5, initial: 200ms, maximum: 1s}") -> str:
        lines = [f"name: {name}", "timezone: UTC", "lang: en", "accounts:"]
        for account, server in self.servers.items():
            var = account.upper().replace("-", "_")
            lines.append(f"  {account}:")
            if isinstance(server, FakeX):
                lines += ["    platform: x", f"    api_base: {server.url}"]
                for key, value in server.credentials.items():
                    lines.append(f"    {key}: ${{{var}_{key.upper()}}}")
                    self.env[f"{var}_{key.upper()}"] = value
            elif isinstance(server, FakeBluesky):
                lines += ["    platform: bluesky", f"    service: {server.url}", f"    handle: {server.handle}",
                          f"    app_password: ${{{var}_PASSWORD}}"]
                self.env[f"{var}_PASSWORD"] = server.app_password
            else:
                lines += ["    platform: mastodon", f"    instance: {server.url}",
                          f"    access_token: ${{{var}_TOKEN}}"]
                self.env[f"{var}_TOKEN"] = server.access_token
        lines += ["schedule:", '  slots: ["0 9 * * *"]', f"  spacing: {spacing}",
                  f"grace: {grace}", f"retry: {retry}"]
        return "\n".join(lines) + "\n"

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def _server(kind: str) -> Any:
    """A fake for an account kind: "x", "bluesky", "mastodon", or "mastodon-hollo" (the strict Hollo flavour)."""
    if kind == "x":
        return FakeX()
    if kind == "bluesky":
        return FakeBluesky()
    return FakeMastodon(flavour=kind.partition("-")[2] or "mastodon")


def platform_of(kind: str) -> str:
    """The platform an account kind posts to ("mastodon-hollo" is a Mastodon account)."""
    return kind.partition("-")[0]


@pytest.fixture
def platforms() -> Iterator[Callable[..., Platforms]]:
    """`platforms(masto="mastodon", holl="mastodon-hollo", xacct="x")`: started fake servers, one per account; all stopped after."""
    started: list[Platforms] = []

    def make(**accounts: str) -> Platforms:
        servers = {name: _server(kind).start() for name, kind in accounts.items()}
        made = Platforms(servers)
        started.append(made)
        return made

    yield make
    for made in started:
        made.stop()


def subprocess_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a `crieur` child: ours, plus credentials, without a store override."""
    env = {k: v for k, v in os.environ.items() if k != "CRIEUR_DB"}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def crieur(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `crieur ARGS` to the end (as `python -m bot`, the venv's interpreter)."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=subprocess_env(env),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)


class Daemon:
    """A `crieur run` child process; its stderr goes to a file (a pipe nobody reads could fill up)."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._handle = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run", *args], cwd=cwd,
                                     env=subprocess_env(env), stdin=subprocess.DEVNULL,
                                     stdout=self._handle, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, text: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the daemon's output:\n{self.output()}")
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._handle.close()

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._handle.close()
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._handle.close()


@pytest.fixture
def daemons() -> Iterator[Callable[..., Daemon]]:
    """Start `crieur run` children; any still alive at the end is killed."""
    started: list[Daemon] = []

    def start(*args: str, cwd: Path, env: dict[str, str], log: Path) -> Daemon:
        daemon = Daemon(*args, cwd=cwd, env=env, log=log)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL selecting a fresh schema (dropped after); skipped without CRIEUR_TEST_DATABASE_URL."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL daemon tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    with postgres_schema(base, "crieur_daemon") as url:
        yield url

def article(path: Path, title: str, paragraphs: int, words: int = 30) -> Path:
    """An article whose paragraphs are distinct (so no two posts of a test share a text)."""
    body = "\n\n".join(
        " ".join(f"{title.split()[0].lower()}{p}w{w}" for w in range(words)) + "." for p in range(paragraphs)
    )
    path.write_text(f"---\ntitle: \"{title}\"\nlang: en\n---\n{body}\n", encoding="utf-8")
    return path


def check_threads(store_url: str, servers: dict[str, Any]) -> list[Any]:
    """The server-side truth against the store: every stored post is on its account's server
    exactly once, with the text stored, replying to the previous post of its thread (the first to
    nothing), and the servers hold nothing else. Returns the store's items."""
    from bot.store import open_store

    store = open_store(store_url)
    try:
        items = store.list_items()
    finally:
        store.close()
    problems: list[str] = []
    for account, server in servers.items():
        on_server = server.posts()
        by_id = {p.id: p for p in on_server}
        texts = [p.text for p in on_server]
        mine = [i for i in items if i.account == account]
        expected = sum(len(i.posts) for i in mine)
        if len(on_server) != expected:
            problems.append(f"{account}: {len(on_server)} posts on the server, {expected} in the store")
        for item in mine:
            previous = None
            for post in item.posts:
                if texts.count(post.text) != 1:
                    problems.append(f"{account} item {item.id} post {post.index}: "
                                    f"{texts.count(post.text)} times on the server")
                remote = by_id.get(post.remote_id or "")
                if remote is None:
                    problems.append(f"{account} item {item.id} post {post.index}: not recorded ({post.state})")
                elif remote.text != post.text or remote.reply_to != previous:
                    problems.append(f"{account} item {item.id} post {post.index}: recorded as {remote.id} "
                                    f"({remote.text!r} replying to {remote.reply_to}), expected "
                                    f"{post.text!r} replying to {previous}")
                previous = post.remote_id
    assert not problems, "\n".join(problems)
    return items


def assert_no_overlap(server: Any, items: list[Any]) -> None:
    """On the server, each thread's posts are consecutive: no two threads of the account overlapped."""
    owner = {p.text: i.id for i in items for p in i.posts}
    sequence = [owner[p.text] for p in server.posts()]
    runs = [k for n, k in enumerate(sequence) if n == 0 or sequence[n - 1] != k]
    assert len(runs) == len(set(runs)), f"threads interleaved on the account: {sequence}"
