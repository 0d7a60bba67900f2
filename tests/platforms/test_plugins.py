"""A third-party platform plug-in, installed as pip would (a .dist-info on PYTHONPATH), taken by
real `crieur` processes from validate through preview, enqueue and run --dry-run to run against
its own fake server; and the built-in plug-ins' facts."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.errors import BadInput  # noqa: E402
from bot.platforms import PLATFORM_NAMES, get_plugin  # noqa: E402
from bot.store import ItemState, open_store  # noqa: E402
from tests.fakes.fake_threads import FakeThreads  # noqa: E402

SITE = ROOT / "tests" / "data" / "plugins" / "site"
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@pytest.fixture
def threads() -> Iterator[FakeThreads]:
    with FakeThreads() as server:
        yield server


def _crieur(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if k != "CRIEUR_DB"}
    child["PYTHONPATH"] = os.pathsep.join([str(SITE), *filter(None, [os.environ.get("PYTHONPATH")])])
    child.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=child, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


def _files(tmp_path: Path, server: FakeThreads) -> tuple[Path, Path]:
    (tmp_path / "pixel.png").write_bytes(PIXEL)
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(
        "name: plugin\ntimezone: UTC\nlang: en\naccounts:\n  desk-t:\n    platform: threads\n"
        f"    api_base: {server.url}\n    username: desk\n    api_token: ${{THREADS_TOKEN}}\n"
        "schedule:\n  slots: ['0 9 * * *']\n  spacing: 10ms\n", encoding="utf-8")
    body = " ".join(f"Sentence {n} of the harbour story tells what the council decided." for n in range(40))
    article = tmp_path / "story.txt"
    article.write_text("---\ntitle: Harbour story\nlang: en\nhashtags: [harbour, council]\n"
                       "media: [{path: pixel.png, alt: A harbour at dawn}]\n---\n" + body + "\n", encoding="utf-8")
    return campaign, article


def test_a_third_party_platform_works_end_to_end(tmp_path: Path, threads: FakeThreads) -> None:
    campaign, article = _files(tmp_path, threads)
    env = {"THREADS_TOKEN": threads.token}

    checked = _crieur("validate", str(campaign), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr

    # Its counting profile and default format (numbering as a prefix, one tag at the end).
    shown = _crieur("preview", str(article), "--campaign", str(campaign), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    [thread] = json.loads(shown.stdout)["threads"]
    assert thread["platform"] == "threads" and thread["limit"] == 400
    posts = [p["text"] for p in thread["posts"]]
    assert len(posts) >= 3 and posts[0].startswith("1/") and posts[-1].endswith("#harbour")
    assert all(p["length"] <= 400 for p in thread["posts"])
    by_name = _crieur("preview", str(article), "-p", "threads", cwd=tmp_path)
    assert by_name.returncode == 0 and "threads" in by_name.stdout.lower(), by_name.stderr

    now = datetime.now(timezone.utc).isoformat()
    db, dry = tmp_path / "queue" / "crieur.db", tmp_path / "queue" / "dryrun.db"
    for store in (db, dry):
        queued = _crieur("enqueue", str(campaign), str(article), "--at", now, "--db", str(store), cwd=tmp_path,
                         env=env)
        assert queued.returncode == 0, queued.stderr

    rehearsal = _crieur("run", "--dry-run", "--once", str(campaign), cwd=tmp_path)  # no credentials needed
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert threads.posts() == []

    done = _crieur("run", "--once", str(campaign), "--db", str(db), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    store = open_store(str(db))
    try:
        [item] = store.list_items()
        rate_limit = store.account_state("desk-t").rate_limit
    finally:
        store.close()
    assert item.state == ItemState.PUBLISHED
    on_server = threads.posts()
    assert [p.text for p in on_server] == [p.text for p in item.posts] == posts
    assert [p.reply_to for p in on_server] == [None, *(p.id for p in on_server[:-1])]
    assert on_server[0].media_alts == ("A harbour at dawn",) and all(not p.media_alts for p in on_server[1:])
    assert [p.remote_id for p in item.posts] == [p.id for p in on_server]
    assert rate_limit and rate_limit.get("x-threads-remaining") == "240"  # the plug-in's headers kept

    listed = _crieur("queue", "list", "--db", str(db), cwd=tmp_path)
    assert listed.returncode == 0 and "published" in listed.stdout, listed.stderr


def test_a_plugin_account_is_checked_by_its_own_model(tmp_path: Path, threads: FakeThreads) -> None:
    campaign, article = _files(tmp_path, threads)
    campaign.write_text(campaign.read_text().replace("${THREADS_TOKEN}", "plain-secret")
                        .replace(f"    api_base: {threads.url}\n", ""), encoding="utf-8")
    checked = _crieur("validate", str(campaign), cwd=tmp_path)
    assert checked.returncode == 2
    assert f"{campaign}:5: accounts.desk-t: api_base: missing required key" in checked.stderr or \
        "api_base" in checked.stderr, checked.stderr
    assert "accounts.desk-t.api_token: literal secret; use ${VAR}" in checked.stderr
    assert "plain-secret" not in checked.stderr + checked.stdout
    assert "Traceback" not in checked.stderr


def test_the_plugins_media_limits_hold_at_enqueue(tmp_path: Path, threads: FakeThreads) -> None:
    campaign, article = _files(tmp_path, threads)
    (tmp_path / "pixel.png").write_bytes(PIXEL + b"\0" * 200_000)
    queued = _crieur("enqueue", str(campaign), str(article), "--db", str(tmp_path / "q.db"), cwd=tmp_path,
                     env={"THREADS_TOKEN": threads.token})
    assert queued.returncode == 2, queued.stderr
    assert "threads takes at most 200,000" in queued.stderr and "Traceback" not in queued.stderr


def test_an_unknown_platform_is_named_with_the_known_ones(tmp_path: Path) -> None:
    campaign = tmp_path / "c.yaml"
    campaign.write_text("name: c\ntimezone: UTC\naccounts: {a: {platform: threds}}\n"
                        "schedule: {slots: ['0 9 * * *']}\n", encoding="utf-8")
    checked = _crieur("validate", str(campaign), cwd=tmp_path)
    assert checked.returncode == 2
    assert "unknown platform 'threds' (did you mean 'threads'?)" in checked.stderr, checked.stderr


def test_built_in_plugins() -> None:
    assert PLATFORM_NAMES == ("x", "mastodon", "bluesky", "dryrun")
    for name in PLATFORM_NAMES:
        plugin = get_plugin(name)
        assert plugin.name == name and plugin.profile_class()().name == name
        assert plugin.adapter_class().name == name
    x, mastodon, bluesky, dryrun = (get_plugin(n) for n in PLATFORM_NAMES)
    assert x.remote_id_from_url("https://x.com/desk/status/1790000000000000001?s=20", [], "k") == \
        "1790000000000000001"
    assert mastodon.remote_id_from_url("https://hollo.example/@desk/0193a0e4-5b1e-7c3d-9f00-1234567890ab", [],
                                       "k") == "0193a0e4-5b1e-7c3d-9f00-1234567890ab"
    assert mastodon.remote_id_from_url("https://gts.example/@desk/statuses/01JD5ZQ3X4Y5Z6A7B8C9D0E1F2", [],
                                       "k") == "01JD5ZQ3X4Y5Z6A7B8C9D0E1F2"
    assert bluesky.remote_id_from_url("https://bsky.app/profile/desk.bsky.social/post/3kabc",
                                      ["at://did:plc:abc/app.bsky.feed.post/3kzzz"], "k") == \
        "at://did:plc:abc/app.bsky.feed.post/3kabc"
    assert bluesky.remote_id_from_url("https://bsky.app/profile/desk.bsky.social/post/3kabc", [], "k") is None
    assert dryrun.remote_id_from_url("anything", [], "key-1").startswith("dryrun-")
    assert (x.media.max_bytes, bluesky.media.max_bytes, mastodon.media.max_alt) == (5 * 1024 * 1024, 1_000_000, 1500)
    assert dryrun.simulated and not x.simulated
    with pytest.raises(BadInput, match="unknown platform 'myspace'"):
        get_plugin("myspace")


def _installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str, module: str = "") -> None:
    """A package in `tmp_path` registering `entry` in crieur.platforms, on sys.path for this test."""
    from bot.platforms import registry

    info = tmp_path / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[crieur.platforms]\n{entry}\n")
    if module:
        (tmp_path / "broken_plugin.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "broken_plugin", raising=False)  # each test its own module
    registry.forget()
    monkeypatch.setattr(registry, "_loaded", {})


@pytest.mark.parametrize(("entry", "module", "message"), [
    ("mystery = broken_plugin:NOTHING", "NOTHING = 42\n", "is not a bot.platforms.PlatformPlugin"),
    ("mystery = missing_module:PLUGIN", "", "cannot be loaded: ModuleNotFoundError"),
    ("mystery = broken_plugin:OTHER",
     "from bot.platforms import PlatformPlugin\nOTHER = PlatformPlugin(name='other', label='O', adapter='x:y')\n",
     "is registered as 'mystery' but calls itself 'other'"),
    ("mystery = broken_plugin:make", "def make():\n    raise RuntimeError('boom')\n",
     "cannot be loaded: RuntimeError: boom"),
])
def test_a_broken_plugin_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str,
                                           module: str, message: str) -> None:
    from bot.campaign import validate_files
    from bot.platforms import registry

    _installed(tmp_path, monkeypatch, entry, module)
    try:
        with pytest.raises(BadInput, match=message):
            get_plugin("mystery")
        campaign = tmp_path / "c.yaml"
        campaign.write_text("name: c\ntimezone: UTC\naccounts:\n  a:\n    platform: mystery\n"
                            "schedule: {slots: ['0 9 * * *']}\n", encoding="utf-8")
        problems = [str(p) for p in validate_files([campaign])]
        assert len(problems) == 1 and problems[0].startswith(f"{campaign}:5: accounts.a.platform: platform 'mystery'")
        assert message in problems[0]
    finally:
        registry.forget()


def test_an_adapter_registered_as_a_platform_gets_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.platforms import registry

    _installed(tmp_path, monkeypatch, "mystery = bot.adapters.dryrun:DryRunAdapter")
    try:
        plugin = get_plugin("mystery")
        assert (plugin.adapter, plugin.account, plugin.profile) == ("bot.adapters.dryrun:DryRunAdapter", None, None)
        assert plugin.profile_class()().name == "mystery"
    finally:
        registry.forget()
