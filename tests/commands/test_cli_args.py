"""Options and positionals mix freely on every command (argparse's intermixed parsing per subcommand)."""

from __future__ import annotations

import argparse

from bot.cli import build_parser


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, sub in subs[0].choices.items():
        yield from _leaves(sub, (*path, name))


def test_enqueue_takes_options_between_positionals() -> None:
    args = build_parser().parse_args(["enqueue", "desk.yaml", "--at", "now", "a.txt", "--account", "x", "b.txt"])
    assert args.campaign == "desk.yaml" and args.articles == ["a.txt", "b.txt"]
    assert args.at == "now" and args.account == ["x"]


def test_run_and_queue_commands_mix_too() -> None:
    args = build_parser().parse_args(["run", "a.yaml", "--once", "b.yaml", "--lease", "5s"])
    assert args.campaigns == ["a.yaml", "b.yaml"] and args.once and args.lease == "5s"
    args = build_parser().parse_args(["queue", "resolve", "--db", "q.db", "12", "--post", "2", "--not-posted"])
    assert args.id == 12 and args.db == "q.db"


def test_every_subcommand_parses_intermixed() -> None:
    """A leaf parser that argparse cannot parse intermixed (a positional in a mutually exclusive
    group, REMAINDER) would make that command refuse mixed orders: none may."""
    leaves = list(_leaves(build_parser()))
    assert len(leaves) > 8
    for path, parser in leaves:
        positionals = [a for a in parser._actions if not a.option_strings]
        for action in positionals:
            assert action.nargs not in (argparse.REMAINDER, argparse.PARSER), path
        for group in parser._mutually_exclusive_groups:
            assert all(a.option_strings for a in group._group_actions), path
