"""The subcommands of `crieur`: each module declares its arguments; heavy imports wait for `run`."""

from __future__ import annotations

import argparse

from bot.commands import accounts, auth, enqueue, preview, queue_cmd, run, serve, validate


def register_all(subparsers: argparse._SubParsersAction) -> None:
    """Add every subcommand's parser (its `handler` is set as a parser default)."""
    preview.register(subparsers)
    validate.register(subparsers)
    enqueue.register(subparsers)
    queue_cmd.register(subparsers)
    run.register(subparsers)
    auth.register(subparsers)
    accounts.register(subparsers)
    serve.register(subparsers)
