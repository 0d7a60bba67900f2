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

    url = resolve_store_url(args.db)
    if must_exist and url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise BadInput(f"no queue store at {url[len('sqlite:///'):]}: nothing was enqueued there "
                       "(check --db or CRIEUR_DB)")
    store = open_store(url)
    if announce:
        print(f"store: {store.display_url}", file=sys.stderr)
    return store
