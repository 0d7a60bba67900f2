"""The subcommands of `crieur`: each module declares its arguments; heavy imports wait for `run`."""

from __future__ import annotations

import argparse

from bot.commands import preview


def register_all(subparsers: argparse._SubParsersAction) -> None:
    """Add every subcommand's parser (its `handler` is set as a parser default)."""
    preview.register(subparsers)
