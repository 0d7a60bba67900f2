"""Where Crieur keeps things: the store's URL and the state directory beside it.

Light on purpose (no SQLAlchemy): `crieur preview` needs the state directory without opening a store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def resolve_store_url(
    db: str | None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The SQLAlchemy URL of the store to use.

    Order: `db` (the `--db` option), else `$CRIEUR_DB`, else `./queue/crieur.db` when `./queue/`
    exists, else `crieur.db` in the user data directory (platformdirs). A plain path, a
    `sqlite:///` URL or a `postgresql://` (or `postgres://`) URL is accepted; relative SQLite
    paths are made absolute against `cwd`; PostgreSQL URLs get the psycopg (3) driver.
    Raises StoreError for any other kind of URL.
    """
    cwd = Path.cwd() if cwd is None else cwd
    env = os.environ if env is None else env
    raw = db or env.get("CRIEUR_DB") or None
    if raw is None:
        if (cwd / "queue").is_dir():
            return _sqlite_url(cwd / "queue" / "crieur.db")
        from platformdirs import user_data_dir

        return _sqlite_url(Path(user_data_dir("crieur")) / "crieur.db")
    raw = raw.strip()
    if "://" not in raw:
        path = Path(raw).expanduser()
        return _sqlite_url(path if path.is_absolute() else cwd / path)
    scheme, _, rest = raw.partition("://")
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg3"):
        return "postgresql+psycopg://" + rest
    if scheme in ("sqlite", "sqlite+pysqlite"):
        # sqlite:///rel/path, sqlite:////abs/path, sqlite:// (in memory)
        if rest in ("", "/", "/:memory:"):
            return "sqlite://"
        path_part, sep, query = rest[1:].partition("?") if rest.startswith("/") else (rest, "", "")
        path = Path(path_part).expanduser()
        url = _sqlite_url(path if path.is_absolute() else cwd / path)
        return url + (sep + query if sep else "")
    from bot.store.engine import display_url  # the error path only: SQLAlchemy is heavy to import
    from bot.store.model import StoreError

    raise StoreError(
        f"unsupported database URL {display_url(raw)!r}: use a file path, sqlite:///PATH "
        "or postgresql://USER@HOST/DB"
    )


def _sqlite_url(path: Path) -> str:
    return "sqlite:///" + str(path)


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///PATH` URL (query left out); None for any other store."""
    return Path(url.split(":///", 1)[1].split("?", 1)[0]) if url.startswith("sqlite:///") else None


def state_dir(db_path: Path | None) -> Path:
    """Where state is kept between runs (Bluesky's sessions, 0600; the servers' limits):
    $CRIEUR_STATE_DIR, else `sessions/` beside the SQLite store (`db_path`), else ./queue/sessions
    (a PostgreSQL store). Kept so that `crieur run --once` from cron does not log in afresh each
    time (bsky.social allows 30 createSession calls per 5 minutes)."""
    explicit = os.environ.get("CRIEUR_STATE_DIR")
    if explicit:
        return Path(explicit)
    return (Path(db_path).parent if db_path is not None else Path("queue")) / "sessions"


def state_dir_for_store(url: str) -> Path:
    """`state_dir` for a resolved store URL."""
    return state_dir(sqlite_path(url))
