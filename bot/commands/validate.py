"""`crieur validate`: check campaign files and report every problem with file, line and field."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check campaign files",
        description="Load every campaign FILE and report every problem (file:line: field: message).",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="campaign YAML files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bot.campaign import validate_files

    problems = validate_files(args.files)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        count = len(problems)
        print(f"crieur: {count} problem{'s' if count != 1 else ''} found", file=sys.stderr)
        return 2
    print(f"{len(args.files)} campaign file{'s' if len(args.files) != 1 else ''} OK")
    return 0
