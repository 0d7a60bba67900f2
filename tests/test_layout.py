"""The project's shape: queue/ is data, not a package; the CLI starts without heavy SDKs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_queue_is_a_data_directory_not_a_package() -> None:
    assert (ROOT / "queue").is_dir()
    assert not (ROOT / "queue" / "__init__.py").exists()


def test_import_queue_is_the_standard_library() -> None:
    code = "import queue, sys; print(queue.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "site-packages" not in out.stdout
    assert Path(out.stdout.strip()).parent == Path(subprocess.__file__).parent


def test_cli_import_does_not_load_heavy_sdks() -> None:
    code = (
        "import sys, bot.cli; bot.cli.build_parser();"
        "heavy = [m for m in ('tweepy', 'mastodon', 'atproto', 'sqlalchemy', 'sentencex', 'apscheduler',"
        " 'starlette', 'uvicorn', 'jinja2')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_and_version_exit_zero() -> None:
    for flag in ("--help", "--version"):
        done = subprocess.run([sys.executable, "-m", "bot", flag], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "crieur" in done.stdout
