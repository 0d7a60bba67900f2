"""Which store a command uses: --db, CRIEUR_DB, ./queue/, the user data directory; and how it is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import StoreError, display_url, open_store, resolve_store_url


def test_db_option_wins_over_everything(tmp_path: Path) -> None:
    (tmp_path / "queue").mkdir()
    env = {"CRIEUR_DB": "/elsewhere/env.db"}
    assert resolve_store_url("/data/q.db", cwd=tmp_path, env=env) == "sqlite:////data/q.db"
    assert resolve_store_url(None, cwd=tmp_path, env=env) == "sqlite:////elsewhere/env.db"
    assert resolve_store_url(None, cwd=tmp_path, env={}) == f"sqlite:///{tmp_path}/queue/crieur.db"


def test_user_data_dir_when_there_is_no_queue_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    url = resolve_store_url(None, cwd=tmp_path, env={})
    assert url.startswith("sqlite:///") and url.endswith("/crieur/crieur.db")
    assert "queue" not in url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("q.db", "sqlite:///{cwd}/q.db"),
        ("sqlite:///q.db", "sqlite:///{cwd}/q.db"),
        ("sqlite:////abs/q.db", "sqlite:////abs/q.db"),
        ("sqlite://", "sqlite://"),
        ("postgresql://u:pw@db.example:5432/crieur", "postgresql+psycopg://u:pw@db.example:5432/crieur"),
        ("postgres://u@db/crieur", "postgresql+psycopg://u@db/crieur"),
        ("postgresql+psycopg://u@db/crieur", "postgresql+psycopg://u@db/crieur"),
    ],
)
def test_url_forms(tmp_path: Path, given: str, expected: str) -> None:
    assert resolve_store_url(given, cwd=tmp_path, env={}) == expected.format(cwd=tmp_path)


def test_other_databases_are_refused_without_showing_the_password(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unsupported database URL") as exc:
        resolve_store_url("mysql://root:hunter2@db/x", cwd=tmp_path, env={})
    assert "hunter2" not in str(exc.value)


def test_display_url_hides_the_password() -> None:
    shown = display_url("postgresql+psycopg://crieur:s3cret@db.example/crieur")
    assert "s3cret" not in shown and "db.example/crieur" in shown


def test_open_store_creates_the_file_and_its_folder(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "new" / "dir" / "crieur.db"))
    try:
        assert (tmp_path / "new" / "dir" / "crieur.db").exists()
        assert store.display_url == f"sqlite:///{tmp_path}/new/dir/crieur.db"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    finally:
        store.close()


def test_unreachable_postgresql_is_a_store_error_without_password() -> None:
    with pytest.raises(StoreError, match="cannot open the store") as exc:
        open_store("postgresql://crieur:s3cret@127.0.0.1:1/nothing")
    assert "s3cret" not in str(exc.value)
