"""The errors that the command line turns into exit codes and one-line messages."""

from __future__ import annotations


class CrieurError(Exception):
    """A failure the user should read as one line, without a traceback (exit code 1)."""

    exit_code = 1


class BadInput(CrieurError):
    """The user's input (an article, a campaign, an option) is wrong (exit code 2).

    The message names the file (and line and field where known) and what is wrong.
    """

    exit_code = 2
