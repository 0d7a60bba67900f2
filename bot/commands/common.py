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
