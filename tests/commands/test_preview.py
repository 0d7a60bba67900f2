"""`crieur preview` end to end: a real process, its output and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "config" / "articles").glob("*.txt"))


def crieur(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def test_examples_exist() -> None:
    assert EXAMPLES, "config/articles/ must hold example articles for the README's quick start"


@pytest.mark.parametrize("article", EXAMPLES, ids=lambda p: p.name)
def test_json_preview_has_the_documented_shape_and_respects_limits(article: Path) -> None:
    from bot.platforms import get_platform

    done = crieur("preview", str(article), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"article", "threads"}
    assert set(data["article"]) == {"path", "title", "lang", "url"}
    assert [t["platform"] for t in data["threads"]] == ["x", "mastodon", "bluesky"]
    for thread in data["threads"]:
        assert set(thread) == {"platform", "limit", "posts", "hashtags", "breaks"}
        assert set(thread["hashtags"]) == {"used", "dropped"}
        platform = get_platform(thread["platform"])
        assert [p["index"] for p in thread["posts"]] == list(range(1, len(thread["posts"]) + 1))
        for post in thread["posts"]:
            assert post["text"].strip()
            assert post["length"] == platform.length(post["text"]) <= thread["limit"]
        for dropped in thread["hashtags"]["dropped"]:
            assert set(dropped) == {"tag", "reason"} and dropped["reason"]


def test_human_preview_shows_every_post_with_counts() -> None:
    done = crieur("preview", str(EXAMPLES[0]), "--platform", "mastodon")
    assert done.returncode == 0, done.stderr
    assert "mastodon" in done.stdout
    assert "[1/" in done.stdout and "/500" in done.stdout
    assert "hashtags used:" in done.stdout


def test_limit_override_and_one_post_thread_is_unnumbered() -> None:
    done = crieur("preview", str(EXAMPLES[0]), "--platform", "x", "--limit", "25000", "--json")
    assert done.returncode == 0, done.stderr
    posts = json.loads(done.stdout)["threads"][0]["posts"]
    assert len(posts) == 1
    assert not posts[0]["text"].rstrip().endswith("1/1")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty body"),
        (b"PK\x03\x04binary\x00\x00\x00\x01\x02", "binary"),
        (b"caf\xe9 au lait\n", "not UTF-8"),
        (b"---\ntitle: [unclosed\n---\nBody text.\n", ":2"),
    ],
    ids=["empty", "binary", "latin1", "bad-yaml"],
)
def test_bad_articles_exit_2_with_one_line_naming_the_file(tmp_path: Path, content: bytes, expected: str) -> None:
    article = tmp_path / "bad.txt"
    article.write_bytes(content)
    done = crieur("preview", str(article))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "bad.txt" in done.stderr and expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_file_and_unknown_platform_exit_2(tmp_path: Path) -> None:
    missing = crieur("preview", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "nope.txt" in missing.stderr and "Traceback" not in missing.stderr
    unknown = crieur("preview", str(EXAMPLES[0]), "--platform", "myspace")
    assert unknown.returncode == 2 and "myspace" in unknown.stderr and "Traceback" not in unknown.stderr


SAMPLE = ROOT.parent / "shared" / "articles" / "seed-fr-ukraine.txt"
CUT_ARTICLE = SAMPLE if SAMPLE.exists() else ROOT / "config" / "articles" / "fr-budget-49-3.txt"


def test_summary_line_counts_break_quality_in_text_and_json() -> None:
    done = crieur("preview", str(CUT_ARTICLE), "--platform", "x", "--json")
    assert done.returncode == 0, done.stderr
    thread = json.loads(done.stdout)["threads"][0]
    breaks = thread["breaks"]
    assert breaks["sentence_ends"] + breaks["clause_ends"] + breaks["elsewhere"] == len(thread["posts"]) - 1
    assert breaks["elsewhere"] == 0  # the readable default: no break at a bare space here
    text = crieur("preview", str(CUT_ARTICLE), "--platform", "x")
    assert (
        f"{len(thread['posts'])} posts, {len(thread['posts']) - 1} breaks: {breaks['sentence_ends']} at sentence ends, "
        f"{breaks['clause_ends']} at clause ends, 0 elsewhere"
    ) in text.stdout


def test_cut_compact_gives_fewer_posts_with_worse_breaks() -> None:
    readable = json.loads(crieur("preview", str(CUT_ARTICLE), "-p", "x", "--json").stdout)["threads"][0]
    done = crieur("preview", str(CUT_ARTICLE), "-p", "x", "--json", "--cut", "compact")
    assert done.returncode == 0, done.stderr
    compact = json.loads(done.stdout)["threads"][0]
    assert len(compact["posts"]) < len(readable["posts"])
    assert compact["breaks"]["sentence_ends"] < readable["breaks"]["sentence_ends"]
    assert crieur("preview", str(CUT_ARTICLE), "--cut", "tidy").returncode == 2
