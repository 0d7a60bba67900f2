"""SQLite store faults at the command line and under a running daemon: one clear line, exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

from daemon_helpers import crieur

from bot.store.base import store_fault

CAMPAIGN = """\
name: faults
timezone: UTC
accounts:
  desk:
    platform: dryrun
    as: mastodon
schedule:
  slots: ["0 9 * * *"]
"""


def test_a_daemon_whose_store_directory_is_removed_stops_with_an_error(tmp_path: Path, daemons) -> None:
    (tmp_path / "c.yaml").write_text(CAMPAIGN, encoding="utf-8")
    queue = tmp_path / "queue"
    queue.mkdir()
    node = daemons(str(tmp_path / "c.yaml"), "--db", str(queue / "crieur.db"), cwd=tmp_path, env={},
                   log=tmp_path / "node.log")
    node.wait_for_output("found ")
    shutil.rmtree(queue)
    assert node.wait(timeout=30) == 1, node.output()
    out = node.output()
    assert "was removed; stopping" in out and "Traceback" not in out


def test_a_daemon_whose_store_file_is_replaced_stops_with_an_error(tmp_path: Path, daemons) -> None:
    (tmp_path / "c.yaml").write_text(CAMPAIGN, encoding="utf-8")
    db = tmp_path / "queue" / "crieur.db"
    db.parent.mkdir()
    node = daemons(str(tmp_path / "c.yaml"), "--db", str(db), cwd=tmp_path, env={}, log=tmp_path / "node.log")
    node.wait_for_output("found ")
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    copy.replace(db)
    assert node.wait(timeout=30) == 1, node.output()
    assert "was replaced by another file; stopping" in node.output()


def test_run_once_on_a_missing_directory_is_bad_input_not_a_new_empty_store(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CAMPAIGN, encoding="utf-8")
    missing = tmp_path / "nowhere" / "crieur.db"
    done = crieur("run", "--once", str(tmp_path / "c.yaml"), "--db", str(missing), cwd=tmp_path, env={})
    assert done.returncode == 2, done.stderr
    assert "does not exist" in done.stderr and not missing.parent.exists()


def test_a_store_that_is_not_a_database_is_one_line_without_sql(tmp_path: Path) -> None:
    db = tmp_path / "crieur.db"
    db.write_bytes(b"this is not a database, only a file with text in it" * 100)
    done = crieur("queue", "list", "--db", str(db), cwd=tmp_path, env={})
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a database" in lines[0], done.stderr
    assert "internal error" not in done.stderr and "SELECT" not in done.stderr and "PRAGMA" not in done.stderr


def test_sqlite_faults_name_their_cause_and_what_to_do() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    for raw, hint in (("attempt to write a readonly database", "read-only: give this user write access"),
                      ("database or disk is full", "free some space"),
                      ("unable to open database file", "directory is missing or not writable")):
        fault = store_fault(OperationalError("UPDATE items SET title=?", ("secret",), sqlite3.OperationalError(raw)),
                            "sqlite:///q.db")
        assert raw in str(fault) and hint in str(fault)
        assert "UPDATE" not in str(fault) and "secret" not in str(fault)
