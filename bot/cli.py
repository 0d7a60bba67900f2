"""The `crieur` command line: argument parsing, dispatch and the error boundary (exit codes)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.errors import BadInput, CrieurError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

class _VersionAction(argparse.Action):
    """`--version`: the installed version, looked up only when asked (the lookup costs ~30 ms)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from bot import __version__

        sys.stdout.write(f"crieur {__version__}\n")
        parser.exit()


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command-line grammar for `argv`: every command's name and help line, and the arguments
    of the command `argv` runs (of every command when `argv` is None)."""
    from bot.commands import chosen_command, register_all

    parser = argparse.ArgumentParser(
        prog="crieur",
        description="Turn articles into social-media threads and publish them on schedule.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default: INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_all(subparsers, None if argv is None else (chosen_command(argv) or ""))
    _accept_global_options_anywhere(subparsers)
    return parser


def _accept_global_options_anywhere(subparsers: argparse._SubParsersAction) -> None:
    """Let `--debug` and `--log-level` also follow the subcommand (`crieur preview a.txt --debug`)."""
    for sub in subparsers.choices.values():
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub.add_argument(
            "--log-level", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
            default=argparse.SUPPRESS, help=argparse.SUPPRESS,
        )
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                _accept_global_options_anywhere(action)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `crieur` with `argv`; return the exit code (0 ok, 1 failure, 2 bad input, 130 Ctrl-C)."""
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)  # argparse itself exits 2 on a usage error
    if getattr(args, "logs", True):  # a command that never logs (preview) skips the set-up
        import logging

        logging.basicConfig(
            level=getattr(logging, args.log_level),
            format="%(asctime)s %(levelname)s %(message)s",
            stream=sys.stderr,
        )
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("crieur: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BadInput as error:
        _report(args, f"crieur: error: {error}")
        return EXIT_BAD_INPUT
    except CrieurError as error:
        _report(args, f"crieur: {error}")
        return error.exit_code
    except BrokenPipeError:
        # `crieur queue list | head` closes the pipe early: not an error worth a message.
        return EXIT_OK
    except Exception as error:  # the boundary: a bug must still end with one readable line
        _report(args, f"crieur: internal error: {type(error).__name__}: {error}"
                " (run with --debug for the traceback)")
        return EXIT_FAILURE


def _report(args: argparse.Namespace, message: str) -> None:
    if args.debug:
        import traceback

        traceback.print_exc()
    print(message, file=sys.stderr)
