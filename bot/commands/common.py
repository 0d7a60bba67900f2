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


def open_store_for(args: argparse.Namespace, *, announce: bool) -> Any:
    """Open the store named by `--db` (or the defaults); say which one when the command writes."""
    from bot.store import open_store, resolve_store_url

    store = open_store(resolve_store_url(args.db))
    if announce:
        print(f"store: {store.display_url}", file=sys.stderr)
    return store
