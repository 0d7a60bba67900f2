"""`crieur auth mastodon|x` end to end against the fake servers: the flows, the file, no secret shown."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.adapters.base import rebased_session  # noqa: E402
from bot.adapters.x import X_HOSTS  # noqa: E402
from bot.cli import main  # noqa: E402
from tests.fakes.fake_mastodon import FakeMastodon  # noqa: E402
from tests.fakes.fake_x import FakeX  # noqa: E402


def x_session(server: FakeX) -> requests.Session:
    """Sends X's fixed hosts to the fake server (tweepy hard-codes https://api.twitter.com)."""
    return rebased_session(server.url, X_HOSTS)


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


@pytest.fixture
def fake_x(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeX]:
    with FakeX() as server:
        monkeypatch.setattr("bot.commands.auth.http_session", lambda: x_session(server))
        monkeypatch.setenv("CRIEUR_X_CONSUMER_KEY", server.credentials["consumer_key"])
        monkeypatch.setenv("CRIEUR_X_CONSUMER_SECRET", server.credentials["consumer_secret"])
        yield server


@pytest.fixture
def creds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "crieur" / "credentials.toml"
    monkeypatch.setenv("CRIEUR_CREDENTIALS", str(path))
    return path


def crieur(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          env={**os.environ, **(env or {})}, timeout=60)


def open_in_browser(url: str, session: requests.Session | None = None) -> str:
    """What the user does: open the printed URL, approve, copy the code or PIN the page shows."""
    page = (session or requests.Session()).get(url, timeout=5)
    assert page.status_code == 200, page.text
    found = re.search(r'class="oauth-code" readonly type="text" value="([^"]+)"', page.text) or \
        re.search(r"<code>(\d+)</code>", page.text)
    assert found, page.text
    return found.group(1)


def the_url(text: str) -> str:
    urls = re.findall(r"^https?://\S+$", text, flags=re.M)
    assert len(urls) == 1, text
    return urls[0]


def assert_private(path: Path) -> None:
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def assert_no_secret(server: FakeMastodon | FakeX, *texts: str) -> None:
    for secret in server.secrets:
        for text in texts:
            assert secret not in text


# --- Mastodon ---------------------------------------------------------------------------------


def test_mastodon_interactive_flow_writes_a_private_file_the_campaign_reads(
        fake_mastodon: FakeMastodon, creds: Path, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--log-level", "DEBUG", "auth", "mastodon", "--instance", fake_mastodon.url,
         "--account", "desk-m"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=os.environ.copy())
    assert process.stdout is not None
    url = process.stdout.readline().strip()  # the URL is the first thing on stdout, flushed
    assert url.startswith(fake_mastodon.url + "/oauth/authorize?")
    assert "None" not in url and "force_login" not in url
    out, err = process.communicate(open_in_browser(url) + "\n", timeout=60)
    assert process.returncode == 0, err
    assert "desk-m (mastodon): @crieur authorised" in out
    assert "credentials: file" in err
    assert_no_secret(fake_mastodon, url, out, err)
    assert_private(creds)
    table = tomllib.loads(creds.read_text())["desk-m"]
    assert table["access_token"] == fake_mastodon.access_token
    assert table["client_id"] in fake_mastodon.apps
    assert table["client_secret"] == fake_mastodon.apps[table["client_id"]]["client_secret"]
    # least privilege by default
    assert fake_mastodon.apps[table["client_id"]]["scopes"] == ["read:accounts", "read:statuses",
                                                                "write:statuses", "write:media"]

    from bot.campaign import load_campaign

    campaign = tmp_path / "c.yaml"
    campaign.write_text(f"name: c\ntimezone: UTC\naccounts:\n  desk-m:\n    platform: mastodon\n"
                        f"    instance: {fake_mastodon.url}\n    credentials: file\n"
                        "schedule: {slots: ['0 9 * * *']}\n")
    assert load_campaign(campaign).accounts["desk-m"].credentials({})["access_token"] == fake_mastodon.access_token


def test_mastodon_two_steps_without_a_terminal(fake_mastodon: FakeMastodon, creds: Path) -> None:
    first = crieur("--log-level", "DEBUG", "auth", "mastodon", "--instance", fake_mastodon.url + "/",
                   "--account", "desk-m")  # stdin is /dev/null: no terminal
    assert first.returncode == 2, first.stderr
    assert "Traceback" not in first.stderr
    assert f"--instance {fake_mastodon.url} --account desk-m --code CODE" in first.stderr
    saved = tomllib.loads(creds.read_text())["desk-m"]
    assert set(saved) == {"client_id", "client_secret"}
    assert_private(creds)

    code = open_in_browser(the_url(first.stdout))
    second = crieur("--log-level", "DEBUG", "auth", "mastodon", "--instance", fake_mastodon.url,
                    "--account", "desk-m", "--code", code)
    assert second.returncode == 0, second.stderr
    assert "@crieur authorised" in second.stdout
    assert_no_secret(fake_mastodon, first.stdout, first.stderr, second.stdout, second.stderr)
    assert tomllib.loads(creds.read_text())["desk-m"] == {**saved, "access_token": fake_mastodon.access_token}
    assert len(fake_mastodon.apps) == 1  # the second step reused the saved app

    again = crieur("auth", "mastodon", "--instance", fake_mastodon.url, "--account", "desk-m", "--code", code)
    assert again.returncode == 2
    assert "invalid_grant" in again.stderr and "run again without --code" in again.stderr
    assert_no_secret(fake_mastodon, again.stdout, again.stderr)


def test_mastodon_code_without_a_saved_app_says_what_to_run(fake_mastodon: FakeMastodon, creds: Path) -> None:
    done = crieur("auth", "mastodon", "--instance", fake_mastodon.url, "--account", "other", "--code", "abc")
    assert done.returncode == 2
    assert "no Mastodon app saved" in done.stderr and "without --code" in done.stderr
    assert fake_mastodon.requests == []


def test_mastodon_refuses_an_open_credentials_file_before_any_request(fake_mastodon: FakeMastodon,
                                                                      creds: Path) -> None:
    creds.parent.mkdir(parents=True)
    creds.write_text('[old]\naccess_token = "keep-me-secret"\n')
    creds.chmod(0o644)
    done = crieur("auth", "mastodon", "--instance", fake_mastodon.url)
    if sys.platform != "win32":
        assert done.returncode == 2
        assert "readable by other users; run: chmod 600" in done.stderr
        assert "keep-me-secret" not in done.stderr
        assert fake_mastodon.requests == []


def test_mastodon_errors_are_one_line(fake_mastodon: FakeMastodon, creds: Path) -> None:
    bad_scope = crieur("auth", "mastodon", "--instance", fake_mastodon.url, "--scopes", "read nonsense")
    assert bad_scope.returncode == 2 and "Scopes are invalid (nonsense)" in bad_scope.stderr
    unreachable = crieur("auth", "mastodon", "--instance", "http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "registering the app" in unreachable.stderr
    with FakeX() as other:  # a server that is not Mastodon
        not_mastodon = crieur("auth", "mastodon", "--instance", other.url)
    assert not_mastodon.returncode == 2 and "not a Mastodon API answer" in not_mastodon.stderr
    for done in (bad_scope, unreachable, not_mastodon):
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


# --- X (in-process: tweepy's host is fixed, the session routes it to the fake) -------------------


class Browser:
    """stdin for the in-process command: when asked for the PIN, open the URL printed so far."""

    def __init__(self, capsys: pytest.CaptureFixture[str], server: FakeX) -> None:
        self.capsys, self.server, self.seen = capsys, server, ""

    def readline(self) -> str:
        self.seen += self.capsys.readouterr().out
        return open_in_browser(the_url(self.seen), x_session(self.server)) + "\n"

    def isatty(self) -> bool:
        return False

    closed = False


def test_x_pin_flow_writes_the_four_keys(fake_x: FakeX, creds: Path, capsys: pytest.CaptureFixture[str],
                                         caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    browser = Browser(capsys, fake_x)
    monkeypatch.setattr(sys, "stdin", browser)
    caplog.set_level("DEBUG")
    assert main(["--log-level", "DEBUG", "auth", "x", "--account", "desk-x"]) == 0
    captured = capsys.readouterr()
    out = browser.seen + captured.out
    assert the_url(browser.seen).startswith("https://api.twitter.com/oauth/authorize?oauth_token=")
    assert "desk-x (x): @crieur_bot authorised" in out
    assert_no_secret(fake_x, out, captured.err, caplog.text)
    assert_private(creds)
    assert tomllib.loads(creds.read_text()) == {"desk-x": fake_x.credentials}


def test_x_two_steps_with_pin_and_closed_stdin(fake_x: FakeX, creds: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["auth", "x", "--account", "desk-x"]) == 2
    first = capsys.readouterr()
    assert "--account desk-x --pin PIN" in first.err
    assert set(tomllib.loads(creds.read_text())["desk-x"]) == {"consumer_key", "consumer_secret", "request_token",
                                                                "request_token_secret"}
    pin = open_in_browser(the_url(first.out), x_session(fake_x))

    monkeypatch.delenv("CRIEUR_X_CONSUMER_SECRET")  # the second step finds the app's keys in the file
    monkeypatch.setattr(sys, "stdin", None)
    assert main(["auth", "x", "--account", "desk-x", "--pin", pin]) == 0
    second = capsys.readouterr()
    assert "@crieur_bot authorised" in second.out
    assert_no_secret(fake_x, first.out, first.err, second.out, second.err)
    assert tomllib.loads(creds.read_text()) == {"desk-x": fake_x.credentials}

    assert main(["auth", "x", "--account", "desk-x", "--pin", pin]) == 2
    assert "no authorisation in progress" in capsys.readouterr().err


def test_x_refusals_and_missing_keys(fake_x: FakeX, creds: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setenv("CRIEUR_X_CONSUMER_SECRET", "wrong-consumer-secret")
    assert main(["auth", "x"]) == 2
    err = capsys.readouterr().err
    assert "refused the app's API key and secret" in err and "Could not authenticate you" in err
    assert "wrong-consumer-secret" not in err

    monkeypatch.setenv("CRIEUR_X_CONSUMER_SECRET", fake_x.credentials["consumer_secret"])
    assert main(["auth", "x", "--account", "a"]) == 2  # step one, no terminal
    capsys.readouterr()
    assert main(["auth", "x", "--account", "a", "--pin", "0000000"]) == 2
    err = capsys.readouterr().err
    assert "refused the PIN" in err and "Invalid oauth_verifier" in err
    assert_no_secret(fake_x, err)

    monkeypatch.delenv("CRIEUR_X_CONSUMER_KEY")
    monkeypatch.delenv("CRIEUR_X_CONSUMER_SECRET")
    assert main(["auth", "x", "--account", "fresh"]) == 2
    assert "set CRIEUR_X_CONSUMER_KEY and CRIEUR_X_CONSUMER_SECRET" in capsys.readouterr().err


def test_secrets_are_not_options() -> None:
    done = crieur("auth", "x", "--help")
    assert done.returncode == 0
    assert "--consumer-secret " not in done.stdout and "--consumer-secret-env" in done.stdout


# --- Bluesky ----------------------------------------------------------------------------------


def test_bluesky_checks_the_app_password_with_the_pds_then_saves_it(creds: Path) -> None:
    from tests.fakes.fake_bluesky import FakeBluesky

    with FakeBluesky() as server:
        done = crieur("auth", "bluesky", "--handle", server.handle, "--service", server.url, "--account", "sky",
                      stdin=server.app_password + "\n")
        assert done.returncode == 0, done.stderr
        assert f"sky (bluesky): @{server.handle} authorised" in done.stdout
        assert server.app_password not in done.stdout + done.stderr
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        assert tomllib.loads(creds.read_text())["sky"] == {"handle": server.handle,
                                                          "app_password": server.app_password}
        assert server.requests.count(("POST", "/xrpc/com.atproto.server.createSession")) == 1


def test_bluesky_a_refused_password_saves_nothing_and_exits_with_one_line(creds: Path) -> None:
    from tests.fakes.fake_bluesky import FakeBluesky

    with FakeBluesky() as server:
        done = crieur("auth", "bluesky", "--handle", server.handle, "--service", server.url,
                      env={"CRIEUR_BLUESKY_APP_PASSWORD": "wrong-pass-word-0000"})
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert "bluesky: nothing was saved" in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert "wrong-pass-word-0000" not in done.stderr
        assert not creds.exists() or "bluesky" not in tomllib.loads(creds.read_text())
        none = crieur("auth", "bluesky", "--handle", server.handle, "--service", server.url)
        assert none.returncode == 2 and "CRIEUR_BLUESKY_APP_PASSWORD=" in none.stderr
