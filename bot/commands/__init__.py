"""The subcommands of `crieur`: each module declares its arguments; heavy imports wait for `run`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib import import_module

# name -> (module, the one-line help `crieur --help` lists). Only the command being run imports
# its module and declares its arguments: `crieur --help` and `crieur preview` stay fast however
# many commands there are. tests/commands/test_command_table.py checks the help lines match the modules'.
COMMANDS: dict[str, tuple[str, str]] = {
    "preview": ("bot.commands.preview", "show the threads an article becomes on each platform"),
    "validate": ("bot.commands.validate", "check campaign files"),
    "enqueue": ("bot.commands.enqueue", "queue a campaign's articles on its posting slots"),
    "queue": ("bot.commands.queue_cmd", "list, show and steer queued threads"),
    "run": ("bot.commands.run", "publish queued threads when they are due (the daemon)"),
    "auth": ("bot.commands.auth", "authorise Crieur to post on an account (writes the credentials file)"),
    "accounts": ("bot.commands.accounts", "check credentials; see and lift account pauses"),
    "status": ("bot.commands.status", "is a daemon running, what is queued and next, what needs a person"),
    "serve": ("bot.commands.serve", "the desk: a local web page to review, approve, edit and steer the queue"),
}


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` runs: its first word that names one (None for `crieur --help`)."""
    return next((arg for arg in argv if arg in COMMANDS), None)


def register_all(subparsers: argparse._SubParsersAction, only: str | None = "") -> None:
    """Add every subcommand's parser (its `handler` is set as a parser default).

    `only=None` declares every command in full; a name declares that one in full and the others
    by their help line; "" (no command given) declares them all by their help line.
    """
    for name, (module, help_text) in COMMANDS.items():
        if only is None or name == only:
            import_module(module).register(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
