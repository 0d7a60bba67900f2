"""Options and helpers shared by the commands that touch the queue store."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="queue store: a SQLite path or sqlite:///…, or postgresql://… "
        "(default: $CRIEUR_DB, else ./queue/crieur.db when ./queue/ exists, else the user data directory)",
    )


def open_store_for(args: argparse.Namespace, *, announce: bool, must_exist: bool = False) -> Any:
    """Open the store named by `--db` (or the defaults); say which one when the command writes.

    `must_exist`: for commands that only look or steer (queue list/show/…): a SQLite file that
    is not there is a mistyped path or an empty queue, never a reason to create one.
    """
    from pathlib import Path

    from bot.errors import BadInput
    from bot.store import open_store, resolve_store_url

    url = resolve_store_url(store_option(args))
    if must_exist and url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise BadInput(f"no queue store at {url[len('sqlite:///'):]}: nothing was enqueued there "
                       f"(check --db or CRIEUR_DB{_other_store_hint(args)})")
    store = open_store(url)
    if announce:
        print(f"store: {store.display_url}", file=sys.stderr)
    return store


def add_dry_run_option(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    parser.add_argument(
        "--dry-run", action="store_true",
        help=help_text or "use the dry-run store (queue/dryrun.db beside the default store), as `crieur run --dry-run` does",
    )


def dry_run_store_path() -> str:
    """The dry-run store: `dryrun.db` beside the default SQLite store (./queue/ when the default
    is PostgreSQL), so a dry run never touches, nor marks published, a real item."""
    from pathlib import Path

    from bot.store import resolve_store_url

    real = resolve_store_url(None)
    beside = Path(real.split(":///", 1)[1]) if real.startswith("sqlite") else Path("queue/crieur.db").resolve()
    return str(beside.with_name("dryrun.db"))


def store_option(args: argparse.Namespace) -> str | None:
    """What `--db` means for this command: the option itself, else the dry-run store with `--dry-run`."""
    db = getattr(args, "db", None)
    if not db and getattr(args, "dry_run", False):
        return dry_run_store_path()
    return db


def _other_store_hint(args: argparse.Namespace) -> str:
    """`; the dry-run store has items: add --dry-run` when the user probably meant the other store."""
    from pathlib import Path

    if getattr(args, "db", None) or not hasattr(args, "dry_run"):
        return ""
    if not args.dry_run and Path(dry_run_store_path()).exists():
        return "; the dry-run store exists: add --dry-run to look at it"
    return ""


def state_dir(db_path: Any) -> Any:
    """Where state is kept between runs (Bluesky's sessions, 0600; the servers' limits):
    $CRIEUR_STATE_DIR, else `sessions/` beside the SQLite store (`db_path`), else ./queue/sessions
    (a PostgreSQL store). Kept so that `crieur run --once` from cron does not log in afresh each
    time (bsky.social allows 30 createSession calls per 5 minutes)."""
    import os
    from pathlib import Path

    explicit = os.environ.get("CRIEUR_STATE_DIR")
    if explicit:
        return Path(explicit)
    return (Path(db_path).parent if db_path is not None else Path("queue")) / "sessions"


def state_dir_for_store(url: str) -> Any:
    """`state_dir` for a store URL (a SQLite file's directory, or ./queue for PostgreSQL)."""
    from pathlib import Path

    db_path = Path(url.split(":///", 1)[1].split("?", 1)[0]) if url.startswith("sqlite:///") else None
    return state_dir(db_path)


def default_state_dir() -> Any:
    """`state_dir` for the store a command without `--db` uses ($CRIEUR_DB, else ./queue/ when
    it exists, else the user data directory), found without opening it (no SQLAlchemy import:
    `crieur preview` stays fast)."""
    import os
    from pathlib import Path

    db = (os.environ.get("CRIEUR_DB") or "").strip()
    if db:
        if "://" not in db or db.lower().startswith("sqlite"):
            path = db.split(":///", 1)[1].split("?", 1)[0] if "://" in db else db
            return state_dir(Path(path).expanduser().absolute())
        return state_dir(None)
    if Path("queue").is_dir():
        return state_dir(Path("queue") / "crieur.db")
    from platformdirs import user_data_dir

    return state_dir(Path(user_data_dir("crieur")) / "crieur.db")
