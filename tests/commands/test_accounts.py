"""`crieur accounts check|status|resume` against the fake servers and a real SQLite store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.adapters.base import rebased_session  # noqa: E402
from bot.adapters.x import X_HOSTS  # noqa: E402
from bot.cli import main  # noqa: E402
from bot.credentials import update_table  # noqa: E402
from tests.fakes.fake_mastodon import FakeMastodon  # noqa: E402
from tests.fakes.fake_x import FakeX  # noqa: E402


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def crieur(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, timeout=60)


def campaign(tmp_path: Path, accounts: str) -> Path:
    path = tmp_path / "desk.yaml"
    path.write_text(f"name: desk\ntimezone: Europe/Paris\naccounts:\n{accounts}schedule: {{slots: ['0 9 * * *']}}\n")
    return path


def test_check_prints_each_handle_and_each_reason(fake_mastodon: FakeMastodon, tmp_path: Path) -> None:
    creds = tmp_path / "cfg" / "credentials.toml"
    update_table(creds, "desk-m", {"access_token": fake_mastodon.access_token})
    update_table(creds, "desk-revoked", {"access_token": "revoked-token-value"})
    path = campaign(tmp_path, f"""\
  desk-m: {{platform: mastodon, instance: "{fake_mastodon.url}", credentials: file}}
  desk-revoked: {{platform: mastodon, instance: "{fake_mastodon.url}", credentials: file}}
  desk-env: {{platform: mastodon, instance: "{fake_mastodon.url}", access_token: "${{DESK_ENV_TOKEN}}"}}
  desk-dry: {{platform: dryrun, as: x}}
""")
    env = {"CRIEUR_CREDENTIALS": str(creds), "DESK_ENV_TOKEN": fake_mastodon.access_token}
    done = crieur("accounts", "check", str(path), env=env)
    lines = done.stdout.splitlines()
    assert lines[0] == "desk-m (mastodon): @crieur ok"
    assert lines[1].startswith("desk-revoked (mastodon): credentials refused: 401")
    assert "crieur auth mastodon" in lines[1]
    assert lines[2] == "desk-env (mastodon): @crieur ok"
    assert lines[3] == "desk-dry (dryrun): dryrun ok"
    assert done.returncode == 1, done.stderr
    assert "1 of 4 accounts not usable" in done.stderr
    for text in (done.stdout, done.stderr):
        assert fake_mastodon.access_token not in text and "revoked-token-value" not in text

    only = crieur("accounts", "check", str(path), "--account", "desk-m", env=env)
    assert only.returncode == 0 and only.stdout == "desk-m (mastodon): @crieur ok\n"


def test_missing_variable_is_reported_per_account_with_exit_2(fake_mastodon: FakeMastodon, tmp_path: Path) -> None:
    path = campaign(tmp_path, f"""\
  desk-a: {{platform: mastodon, instance: "{fake_mastodon.url}", access_token: "${{UNSET_TOKEN_A}}"}}
  desk-b: {{platform: mastodon, instance: "{fake_mastodon.url}", access_token: "${{SET_TOKEN_B}}"}}
  desk-c: {{platform: mastodon, instance: "{fake_mastodon.url}", credentials: file}}
""")
    done = crieur("accounts", "check", str(path), env={"SET_TOKEN_B": fake_mastodon.access_token,
                                                       "CRIEUR_CREDENTIALS": str(tmp_path / "none.toml")})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stdout.splitlines() == [
        "desk-a (mastodon): environment variable UNSET_TOKEN_A is not set",
        "desk-b (mastodon): @crieur ok",
        f"desk-c (mastodon): credentials file {tmp_path / 'none.toml'} does not exist (run crieur auth)",
    ]


def test_bad_input_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    done = crieur("accounts", "check", str(bad))
    assert done.returncode == 2 and "bad.yaml" in done.stderr and "Traceback" not in done.stderr
    good = campaign(tmp_path, "  desk-dry: {platform: dryrun}\n")
    unknown = crieur("accounts", "check", str(good), "--account", "nobody")
    assert unknown.returncode == 2 and "no account named nobody" in unknown.stderr


def test_check_x_account_through_its_session(fake_x: FakeX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    def session(account: object) -> requests.Session:
        s = requests.Session()
        rebased_session(fake_x.url, X_HOSTS, s)
        return s

    monkeypatch.setattr("bot.commands.accounts.http_session", session)
    creds = tmp_path / "credentials.toml"
    update_table(creds, "desk-x", fake_x.credentials)
    path = campaign(tmp_path, f"  desk-x: {{platform: x, credentials: {creds}}}\n")
    assert main(["accounts", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == "desk-x (x): @crieur_bot ok\n"

    update_table(creds, "desk-x", {"access_token": "1111-other"})
    assert main(["accounts", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("desk-x (x): credentials refused:")
    for secret in fake_x.secrets:
        assert secret not in out


def test_status_and_resume(tmp_path: Path) -> None:
    from bot.store import open_store, resolve_store_url

    db = str(tmp_path / "q.db")
    store = open_store(resolve_store_url(db))
    until = datetime.now(timezone.utc) + timedelta(hours=2)
    store.pause_account("desk-x", until, "rate limited by X")
    store.pause_account("desk-m", None, "credentials refused: 401 The access token is invalid")
    store.close()

    status = crieur("accounts", "status", "--db", db)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines() == [
        "desk-m: paused until resumed (crieur accounts resume): credentials refused: 401 The access token is invalid",
        f"desk-x: paused until {until.replace(microsecond=0).isoformat()}: rate limited by X",
    ]
    resumed = crieur("accounts", "resume", "desk-m", "--db", db)
    assert resumed.returncode == 0, resumed.stderr
    assert "desk-m: resumed (was paused: credentials refused" in resumed.stdout
    assert crieur("accounts", "resume", "desk-m", "--db", db).stdout == "desk-m: was not paused\n"
    after = crieur("accounts", "status", "--db", db)
    assert after.stdout.splitlines() == [status.stdout.splitlines()[1]]
    crieur("accounts", "resume", "desk-x", "--db", db)
    assert crieur("accounts", "status", "--db", db).stdout == "no paused accounts\n"
    unknown = crieur("accounts", "resume", "desk-typo", "--db", db)
    assert unknown.returncode == 2 and "no account named desk-typo" in unknown.stderr
    assert "desk-m" in unknown.stderr  # the known ones are listed
