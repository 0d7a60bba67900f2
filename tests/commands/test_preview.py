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
    assert set(data["article"]) == {"path", "title", "lang", "lang_source", "url"}
    assert [t["platform"] for t in data["threads"]] == ["x", "mastodon", "bluesky"]
    for thread in data["threads"]:
        assert set(thread) == {"account", "platform", "limit", "notes", "lang", "posts", "hashtags", "breaks",
                                "markdown_warnings"}
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


def _in_process(*args: str) -> tuple[int, str, str]:
    """`crieur ARGS` in this process (fast enough to try many inputs): (exit code, stdout, stderr)."""
    import contextlib
    import io

    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky"])
def test_any_limit_too_small_says_so_in_one_line_and_exits_2(platform: str) -> None:
    for article in sorted((ROOT / "config" / "articles").glob("*.txt")):
        for limit in (1, 5, 10, 15, 20, 25, 30, 35, 40, 50):
            for link in ("last", "none"):
                code, _, err = _in_process("preview", str(article), "-p", platform, "--limit", str(limit),
                                           "--link", link)
                assert code in (0, 2), (article, limit, err)
                assert "internal error" not in err and "AssertionError" not in err, (article, limit, err)
                if code == 2:
                    assert len(err.strip().splitlines()) == 1 and article.name in err
    code, _, err = _in_process("preview", str(ROOT / "config/articles/de-radweg.txt"), "-p", platform, "--limit", "30")
    assert code == 2 and "limit 30 is too small for this article on" in err and "use a larger --limit" in err


def test_preview_says_the_language_and_how_it_was_chosen() -> None:
    german = str(ROOT / "config/articles/de-radweg.txt")  # no lang: in its front matter
    code, out, _ = _in_process("preview", german, "-p", "x")
    assert code == 0 and "posted in: de (detected)" in out
    code, out, _ = _in_process("preview", german, "-p", "x", "--json")
    data = json.loads(out)
    assert data["article"]["lang"] == "de" and data["article"]["lang_source"] == "detected"
    assert [t["lang"] for t in data["threads"]] == ["de"]
    # The example campaign says `lang: en`: the article's own language still wins.
    code, out, _ = _in_process("preview", german, "--campaign", str(ROOT / "config/campaigns/example.yaml"), "--json")
    assert {t["lang"] for t in json.loads(out)["threads"]} == {"de"}
    code, out, _ = _in_process("preview", german, "-p", "x", "--lang", "fr")
    assert "posted in: fr (given)" in out


def test_media_with_alt_text_in_preview_and_bad_media_refused(tmp_path: Path) -> None:
    import base64

    image = tmp_path / "port.png"
    image.write_bytes(base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="))
    article = tmp_path / "a.txt"
    article.write_text("---\nmedia:\n  - path: port.png\n    alt: The port at dawn\n---\n"
                       "The port reopened on Monday after a week of repairs.\n", encoding="utf-8")
    code, out, err = _in_process("preview", str(article), "-p", "mastodon")
    assert code == 0, err
    assert "media: port.png (alt: The port at dawn)" in out
    code, out, _ = _in_process("preview", str(article), "-p", "mastodon", "--json")
    assert json.loads(out)["threads"][0]["posts"][0]["media"] == [{"path": str(image), "alt": "The port at dawn"}]
    image.write_text("not an image", encoding="utf-8")
    code, _, err = _in_process("preview", str(article), "-p", "mastodon")
    assert code == 2 and "is not an image" in err
    image.unlink()
    code, _, err = _in_process("preview", str(article), "-p", "mastodon")
    assert code == 2 and "does not exist" in err


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
