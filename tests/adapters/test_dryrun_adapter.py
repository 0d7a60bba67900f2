"""DryRunAdapter and adapter loading by entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.adapters import Adapter, OutgoingPost, load_adapter_class
from bot.adapters.dryrun import DryRunAdapter
from bot.errors import BadInput


def test_dry_run_writes_json_lines_with_stable_ids(tmp_path) -> None:
    path = tmp_path / "q" / "dryrun.jsonl"
    adapter = DryRunAdapter.from_account({"path": str(path)}, {})
    first = adapter.publish(OutgoingPost("one", "k1"))
    second = adapter.publish(OutgoingPost("two", "k2"), first)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["text"], r["reply_to"], r["idempotency_key"]) for r in rows] == [
        ("one", None, "k1"), ("two", first.id, "k2")]
    again = DryRunAdapter.from_account({"path": str(path)}, {})
    assert again.publish(OutgoingPost("two", "k2"), first) == second, "stable across runs"
    assert adapter.verify() == "dryrun"


def test_dry_run_default_path() -> None:
    assert str(DryRunAdapter.from_account({}, {}).path) == "queue/dryrun.jsonl"


@pytest.mark.parametrize("name", ["x", "mastodon", "bluesky", "dryrun"])
def test_builtins_load_by_entry_point(name: str) -> None:
    cls = load_adapter_class(name)
    assert issubclass(cls, Adapter) and cls.name == name


def test_unknown_adapter_lists_the_installed_ones() -> None:
    with pytest.raises(BadInput, match=r"unknown platform 'threads'; known platforms: x, mastodon, bluesky, dryrun"):
        load_adapter_class("threads")


def test_importing_adapters_loads_no_sdk() -> None:
    code = ("import sys, bot.adapters; "
            "print([m for m in ('tweepy', 'mastodon', 'atproto') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
