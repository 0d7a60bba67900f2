"""`crieur validate`: check campaign files and report every problem with file, line and field."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check campaign files",
        description="Load every campaign FILE and report every problem (file:line: field: message). "
        "Without FILEs, checks config/campaigns/*.yaml under the current directory.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="campaign YAML files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.campaign import validate_files
    from bot.errors import BadInput

    if not args.files:
        folder = Path("config/campaigns")
        args.files = [str(p) for p in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))]
        if not args.files:
            raise BadInput(f"{folder}: no campaign files (*.yaml) to check; name the FILEs")
    problems = validate_files(args.files)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        count = len(problems)
        print(f"crieur: {count} problem{'s' if count != 1 else ''} found", file=sys.stderr)
        return 2
    print(f"{len(args.files)} campaign file{'s' if len(args.files) != 1 else ''} OK")
    return 0
