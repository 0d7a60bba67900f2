"""Print how fast the formatter slices a 3,000-character article, against textwrap, and the X counter's speed."""

from __future__ import annotations

import statistics
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.article import Article, load_article  # noqa: E402
from bot.formatter import format_thread  # noqa: E402
from bot.platforms import get_platform  # noqa: E402

TARGET = 3000
FALLBACK = (
    "Le gouvernement a engagé sa responsabilité sur le budget, en recourant à l’article 49.3 pour la "
    "troisième fois de la session. « Nous n’avions pas d’autre choix », a déclaré M. Vasseur devant un "
    "hémicycle houleux ; l’opposition a aussitôt déposé une motion de censure. The harbour authority said "
    "the $2.1 billion wind port would open at 9 a.m. on Monday, with 1,2 % of the budget kept in reserve."
)


def sample_article() -> Article:
    """A 3,000-character article: the example articles of config/ (or a built-in paragraph), repeated."""
    paths = sorted((ROOT / "config" / "articles").glob("*.txt"))
    base = None
    for path in paths:
        try:
            art = load_article(path)
        except Exception:  # a colleague's parser still in progress: fall back below
            continue
        if base is None or len(art.body) > len(base.body):
            base = art
    if base is None:
        base = Article(paragraphs=(FALLBACK,), hashtags=("Budget", "Europe"), keywords=("article 49.3",), lang="fr")
    paragraphs: list[str] = []
    k = 0
    while len("\n\n".join(paragraphs)) < TARGET:
        paragraphs.append(base.paragraphs[k % len(base.paragraphs)])
        k += 1
    body = "\n\n".join(paragraphs)[:TARGET]
    body = body[: body.rstrip().rfind(" ")].rstrip() + "."
    return replace(base, paragraphs=tuple(p for p in body.split("\n\n") if p.strip()))


def median_ms(fn, repeat: int = 60) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up (imports, compiled regexes)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    art = sample_article()
    print(f"article: {len(art.body)} characters, {len(art.body.split())} words, lang={art.lang}")
    print(f"{'platform':<10} {'posts':>5} {'format ms':>10} {'textwrap ms':>12} {'ratio':>7}")
    for name in ("x", "mastodon", "bluesky"):
        plat = get_platform(name)
        thread = format_thread(art, plat)
        ms = median_ms(lambda: format_thread(art, plat))
        tw = median_ms(lambda: textwrap.wrap(art.body, width=plat.limit))
        print(f"{name:<10} {len(thread.posts):>5} {ms:>10.2f} {tw:>12.3f} {ms / tw:>6.1f}x")
    x = get_platform("x")
    text = (art.body * 2)[:2500]
    calls = 2000
    start = time.perf_counter()
    for _ in range(calls):
        x.length(text)
    elapsed = time.perf_counter() - start
    print(f"X counter on 2,500 characters: {calls / elapsed:,.0f} calls/s ({elapsed / calls * 1e3:.4f} ms/call)")


if __name__ == "__main__":
    main()
