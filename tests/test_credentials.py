"""bot.credentials: TOML round trips, 0600/0700 permissions, atomic updates, refusal of open files."""

from __future__ import annotations

import os
import stat
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from bot.credentials import CredentialsFileError, default_path, dumps, read_table, update_table

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")

NASTY = ['plain', 'quote " inside', "back\\slash", "new\nline\ttab\r", "ctl \x00\x01\x1f\x7f", "naïve ☃ 🐍",
         "'single'", '"""triple"""', "=[]#", ""]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("value", NASTY)
def test_any_string_round_trips(value: str) -> None:
    data = {"desk-x": {"token": value}, "odd name.with@dots": {value or "empty": "v"}}
    assert tomllib.loads(dumps(data)) == data


def test_scalars_of_a_hand_written_file_survive_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('top = 1\n[a]\nn = 3\nf = 1.5\nb = true\nl = ["x", 2]\n[b]\nk = "v"\n')
    path.chmod(0o600)
    update_table(path, "c", {"token": "t"})
    assert tomllib.loads(path.read_text()) == {"top": 1, "a": {"n": 3, "f": 1.5, "b": True, "l": ["x", 2]},
                                              "b": {"k": "v"}, "c": {"token": "t"}}


@posix_only
def test_new_file_is_0600_in_a_new_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "crieur" / "credentials.toml"
    old = os.umask(0)  # the most permissive umask: the modes must still be private
    try:
        update_table(path, "desk-m", {"access_token": "tok"})
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert read_table(path, "desk-m") == {"access_token": "tok"}
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_update_merges_keeps_other_tables_and_removes_keys(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    update_table(path, "a", {"k1": "1", "k2": "2"})
    update_table(path, "b", {"x": "y"})
    update_table(path, "a", {"k2": "two", "k3": "3"}, remove=["k1"])
    assert tomllib.loads(path.read_text()) == {"a": {"k2": "two", "k3": "3"}, "b": {"x": "y"}}
    assert read_table(path, "missing") == {}
    assert read_table(tmp_path / "nope.toml", "a") == {}


@posix_only
def test_open_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text('[a]\ntoken = "secret-value"\n')
    path.chmod(0o644)
    with pytest.raises(CredentialsFileError, match="readable by other users; run: chmod 600") as caught:
        update_table(path, "a", {"token": "new"})
    assert "secret-value" not in str(caught.value)
    with pytest.raises(CredentialsFileError):
        read_table(path, "a")
    assert path.read_text() == '[a]\ntoken = "secret-value"\n'


def test_invalid_toml_is_refused_without_echo(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text('[a]\ntoken = "secret-value\n')
    path.chmod(0o600)
    with pytest.raises(CredentialsFileError, match="not valid TOML") as caught:
        update_table(path, "a", {"token": "x"})
    assert "secret-value" not in str(caught.value)


@posix_only
def test_symlinked_file_is_updated_at_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real.toml"
    update_table(target, "a", {"k": "1"})
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    update_table(link, "a", {"k": "2"})
    assert link.is_symlink() and read_table(target, "a") == {"k": "2"}


def test_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    threads = [threading.Thread(target=update_table, args=(path, f"acct{n}", {"token": str(n)})) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tomllib.loads(path.read_text()) == {f"acct{n}": {"token": str(n)} for n in range(12)}


def test_default_path_is_the_campaign_loaders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.campaign import default_credentials_path

    monkeypatch.setenv("CRIEUR_CREDENTIALS", str(tmp_path / "c.toml"))
    assert default_path() == default_credentials_path() == tmp_path / "c.toml"
    monkeypatch.delenv("CRIEUR_CREDENTIALS")
    assert default_path().name == "credentials.toml" and "crieur" in str(default_path())


def test_written_file_is_read_by_the_campaign_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.campaign import load_campaign

    monkeypatch.setenv("CRIEUR_CREDENTIALS", str(tmp_path / "cfg" / "credentials.toml"))
    update_table(default_path(), "desk.m@x", {"access_token": NASTY[1] + NASTY[5]})
    campaign = tmp_path / "c.yaml"
    campaign.write_text("name: c\ntimezone: UTC\naccounts:\n  desk.m@x:\n    platform: mastodon\n"
                        "    instance: https://m.example\n    credentials: file\n"
                        "schedule: {slots: ['0 9 * * *']}\n")
    account = load_campaign(campaign).accounts["desk.m@x"]
    assert account.credentials({}) == {"access_token": NASTY[1] + NASTY[5]}


def test_credentials_with_control_characters_are_refused_or_stripped_naming_where(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from bot.campaign import load_campaign
    from bot.errors import BadInput

    monkeypatch.setenv("CRIEUR_CREDENTIALS", str(tmp_path / "cfg" / "credentials.toml"))
    campaign = tmp_path / "c.yaml"
    campaign.write_text("name: c\ntimezone: UTC\naccounts:\n  desk.m@x:\n    platform: mastodon\n"
                        "    instance: https://m.example\n    credentials: file\n"
                        "  env-m:\n    platform: mastodon\n    instance: https://m.example\n"
                        "    access_token: ${T_TOKEN}\n"
                        "schedule: {slots: ['0 9 * * *']}\n")
    accounts = load_campaign(campaign).accounts
    update_table(default_path(), "desk.m@x", {"access_token": "secret-\x01-value"})
    with pytest.raises(BadInput, match=r"key access_token of \[desk.m@x\] contains a control character") as err:
        accounts["desk.m@x"].credentials({})
    assert "secret" not in str(err.value).split("(not shown")[0].split("contains")[1]
    with caplog.at_level("WARNING"):
        assert accounts["env-m"].credentials({"T_TOKEN": "tok-123\r\n"}) == {"access_token": "tok-123"}
    assert "environment variable T_TOKEN had whitespace around it" in caplog.text and "tok-123" not in caplog.text
    with pytest.raises(BadInput, match="T_TOKEN holds only whitespace"):
        accounts["env-m"].credentials({"T_TOKEN": " \r"})
