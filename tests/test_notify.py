"""Notifications delivered by Apprise to a real HTTP receiver on 127.0.0.1 (json://…): grouping, retries,
secrets from the environment or the credentials file, never blocking, and a daemon run that sends one."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.campaign import CampaignError, NotifySection, load_campaign
from bot.notify import Event, Notifier

ROOT = Path(__file__).resolve().parents[1]


class Receiver:
    """A webhook receiver: records every JSON body (and Authorization header); can fail or hold requests."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.auth: list[str | None] = []
        self.fail_next = 0
        self.hold = threading.Event()
        self.hold.set()
        self.started = threading.Event()  # a request came in (it may be held)
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.started.set()
                receiver.hold.wait(60)
                with receiver.arrived:
                    if receiver.fail_next:
                        receiver.fail_next -= 1
                        status = 500
                    else:
                        receiver.messages.append(json.loads(body))
                        receiver.auth.append(self.headers.get("Authorization"))
                        status = 200
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def wait_for(self, count: int, timeout: float = 60) -> list[dict]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.messages) >= count, timeout), self.messages
            return list(self.messages)

    def stop(self) -> None:
        self.hold.set()
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.stop()


def campaign(url: str, *, events: list[str] | None = None, group: str = "2s", name: str = "desk") -> SimpleNamespace:
    notify = NotifySection(urls=[url], events=events or ["failed", "needs_review", "account_paused", "daemon_stopped"],
                           group=group)
    return SimpleNamespace(name=name, notify=notify)


def failed(i: int) -> Event:
    return Event(kind="failed", campaign="desk", summary=f"item {i} (desk/desk-x) failed: 503",
                 fix=f"crieur queue retry {i}", item_id=i, account="desk-x")


def test_a_burst_of_100_failures_makes_one_message(receiver: Receiver) -> None:
    notifier = Notifier([campaign(receiver.url())], env={})
    try:
        for i in range(100):
            notifier.emit(failed(i))
        [message] = receiver.wait_for(1)
    finally:
        notifier.close()
    assert message["title"] == "crieur: 100 items failed"
    assert "item 0 (desk/desk-x) failed: 503 (fix: crieur queue retry 0)" in message["message"]
    assert "… and 80 more" in message["message"]
    assert len(receiver.messages) == 1


def test_one_event_says_item_account_reason_and_fix(receiver: Receiver) -> None:
    notifier = Notifier([campaign(receiver.url(), group="0s")], env={})
    try:
        notifier.emit(failed(7))
        notifier.emit(Event(kind="published", campaign="desk", summary="not wanted", item_id=8, account="desk-x"))
        [message] = receiver.wait_for(1)
    finally:
        notifier.close()
    assert message["title"] == "crieur: failed: item 7 (desk-x)"
    assert message["message"] == "item 7 (desk/desk-x) failed: 503\nTo fix: crieur queue retry 7"
    assert len(receiver.messages) == 1  # `published` is off unless listed


def test_undeliverable_is_retried_and_emit_never_blocks(receiver: Receiver) -> None:
    receiver.fail_next = 1
    receiver.hold.clear()  # the receiver holds the first request: the sender thread waits, emit must not
    notifier = Notifier([campaign(receiver.url(), group="0s")], env={}, retry_delays=(0.0, 0.0))
    try:
        notifier.emit(failed(1))
        assert receiver.started.wait(60)  # its delivery is on the wire, and stuck there
        for i in range(2, 50):
            notifier.emit(failed(i))  # returns at once although the delivery is stuck
        assert receiver.messages == []
        receiver.hold.set()
        messages = receiver.wait_for(2)
    finally:
        notifier.close()
    # The first message got a 500 and was sent again; the 48 that came meanwhile made one message.
    assert sorted(m["title"] for m in messages) == ["crieur: 48 items failed", "crieur: failed: item 1 (desk-x)"]


def test_secrets_come_from_the_environment_or_the_credentials_file(receiver: Receiver, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"json://${{HOOK_USER}}:${{HOOK_PASS}}@127.0.0.1:{receiver.port}/hook"
    creds = tmp_path / "credentials.toml"
    creds.write_text('[notify]\nHOOK_PASS = "s3cret-from-file"\n', encoding="utf-8")
    creds.chmod(0o600)
    monkeypatch.setenv("CRIEUR_CREDENTIALS", str(creds))
    notifier = Notifier([campaign(url, group="0s")], env={"HOOK_USER": "desk"})
    try:
        notifier.emit(failed(3))
        receiver.wait_for(1)
    finally:
        notifier.close()
    assert receiver.auth == ["Basic " + base64.b64encode(b"desk:s3cret-from-file").decode()]


def test_literal_secrets_in_notify_urls_are_refused_without_echoing_them(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: c\ntimezone: UTC\naccounts:\n  a: {platform: dryrun}\nschedule: {slots: ['0 9 * * *']}\n"
        "notify:\n  urls: ['mailto://desk:hunter2@mail.example', 'ntfy://ntfy.sh/alerts?token=tk_abc123']\n"
        "  events: [failed, sometimes]\n", encoding="utf-8")
    with pytest.raises(CampaignError) as raised:
        load_campaign(path)
    message = str(raised.value)
    assert "hunter2" not in message and "tk_abc123" not in message
    assert f"{path}:7: notify.urls[0]: literal secret (password) in the URL; use ${{VAR}}" in message
    assert "notify.urls[1]: literal secret (query parameter)" in message
    assert f"{path}:8: notify.events[1]:" in message


def test_a_daemon_run_notifies_a_thread_that_needs_review(receiver: Receiver, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "queue").mkdir()
    image = tmp_path / "photo.png"
    image.write_bytes(_PNG)
    article = tmp_path / "a.txt"
    article.write_text(f"---\ntitle: Port news\nmedia:\n  - path: {image}\n    alt: The port at dawn\n---\n"
                       "The port reopened on Monday after a week of repairs.\n", encoding="utf-8")
    path = tmp_path / "notify.yaml"
    path.write_text(
        "name: notified\ntimezone: UTC\naccounts:\n  desk-dry: {platform: dryrun}\n"
        "schedule: {slots: ['0 9 * * *'], spacing: 0s}\n"
        f"notify:\n  urls: ['{receiver.url()}']\n  events: [needs_review, published, daemon_stopped]\n  group: 1s\n",
        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CRIEUR_DB"}
    run = [sys.executable, "-m", "bot"]
    done = subprocess.run([*run, "enqueue", str(path), str(article), "--at", "now", "--dry-run"], cwd=tmp_path,
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    image.write_bytes(_PNG + b"changed")  # the image changed after queueing: the thread needs a person
    done = subprocess.run([*run, "run", "--dry-run", "--once", str(path)], cwd=tmp_path, capture_output=True,
                          text=True, env=env)
    assert done.returncode == 1, done.stderr
    [message] = receiver.wait_for(1)
    assert message["title"].startswith("crieur: needs review: item 1 (desk-dry)")
    assert "changed since the thread was queued" in message["message"]
    assert "To fix: crieur queue show 1, then crieur queue retry 1" in message["message"]


# A 1x1 PNG.
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
