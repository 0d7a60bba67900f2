"""The command table: `crieur --help` lists every command without importing its module."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import import_module
from pathlib import Path

from bot.commands import COMMANDS, chosen_command

ROOT = Path(__file__).resolve().parents[2]


def test_help_lines_are_the_modules_own() -> None:
    for name, (module, help_text) in COMMANDS.items():
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        import_module(module).register(subparsers)
        helps = {a.dest: a.help for a in subparsers._choices_actions}
        assert helps.get(name) == help_text, name


def test_chosen_command_is_the_first_command_word() -> None:
    assert chosen_command(["--log-level", "DEBUG", "preview", "run.txt"]) == "preview"
    assert chosen_command(["--help"]) is None


def test_help_and_preview_import_only_what_they_use() -> None:
    code = (
        "import sys, runpy; sys.argv = ['crieur'] + sys.argv[1:]\n"
        "from bot.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(sys.argv[1:])\n"
        "    except SystemExit: pass\n"
        "loaded = [m for m in ('bot.commands.auth', 'bot.commands.queue_cmd', 'bot.commands.run', 'bot.store',"
        " 'importlib.metadata', 'emoji', 'bot.platforms.mastodon', 'bot.platforms.bluesky', 'bot.formatter')"
        " if m in sys.modules]\n"
        "print(loaded)"
    )
    help_run = subprocess.run([sys.executable, "-c", code, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert help_run.stdout.strip().splitlines()[-1] == "[]", help_run.stderr
    article = ROOT / "config" / "articles" / "fr-budget-49-3.txt"
    preview = subprocess.run(
        [sys.executable, "-c", code, "preview", str(article), "-p", "x"], cwd=ROOT, capture_output=True, text=True
    )
    assert preview.stdout.strip().splitlines()[-1] == "['bot.formatter']", preview.stderr
