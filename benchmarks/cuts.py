"""Print where threads break — Crieur (readable, compact) against a greedy sentence packer.

For every article in config/articles/, tests/data/articles/ and the product owner's sample
(../shared/articles/, when it is there), on X, Mastodon and Bluesky with the default settings:
posts, and the share of breaks at sentence (or paragraph) ends, at clause ends, and at bare
spaces or inside words. Then the totals per platform and over everything.

The greedy baseline is written here, on rendered text, independently of the formatter: pack
whole sentences into a post while they fit; a sentence too long for one post starts a new post
and is cut at the last word that fits, word after word. It is counted with the same numbering
(" i/N", as wide as its own count needs), link (last post) and content warning as Crieur's
defaults, and carries no hashtags (Crieur's hashtags never add a post, so this is the
strictest count to compare with). Sentences, clauses and words come from bot.segment, as for
Crieur, so both are judged by the same rules.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.article import Article, load_article  # noqa: E402
from bot.formatter import Cut, default_options, format_thread  # noqa: E402
from bot.platforms import Platform, get_platform  # noqa: E402
from bot.segment import Break, Piece, graphemes, pieces  # noqa: E402

PLATFORMS = ("x", "mastodon", "bluesky")
SHARED = ROOT.parent / "shared" / "articles"


def article_paths() -> list[Path]:
    found = sorted((ROOT / "config" / "articles").glob("*.txt"))
    found += sorted((ROOT / "tests" / "data" / "articles").glob("*.txt"))
    found += sorted(SHARED.glob("*.txt")) if SHARED.is_dir() else []
    # The worktree layout (/work/wt-N beside /work/shared) and a clone inside the project both work.
    if not SHARED.is_dir() and (ROOT.parent.parent / "shared" / "articles").is_dir():
        found += sorted((ROOT.parent.parent / "shared" / "articles").glob("*.txt"))
    return found


# --- the greedy sentence packer (the baseline) -------------------------------------------------


def _words(body: str, lang: str | None) -> list[Piece]:
    """Words as the segmenter sees them: pieces joined across places where no break is allowed."""
    out: list[Piece] = []
    for p in pieces(body, lang):
        if out and out[-1].brk == Break.NONE:
            prev = out.pop()
            p = Piece(prev.text + prev.sep + p.text, p.sep, p.brk)
        out.append(p)
    return out


def greedy(article: Article, platform: Platform) -> list[Break]:
    """The breaks (quality of the place after each post but the last) of the greedy thread."""
    body = article.body.strip()
    words = _words(body, article.lang)
    cw = platform.cw_length(article.cw) if (platform.supports_cw and article.cw) else 0
    link = "\n\n" + article.url if article.url else ""
    n = 1
    for _ in range(10):
        posts = _greedy_pack(words, platform, n, cw, link)
        if len(posts) <= n:
            return [words[k].brk for k in posts[:-1]]
        n = len(posts)
    raise RuntimeError("greedy numbering did not converge")


def _greedy_pack(words: list[Piece], platform: Platform, n: int, cw: int, link: str) -> list[int]:
    """Index of the last word of each post, reserving numbering as wide as " n/n"."""
    label = f" {n}/{n}" if n > 1 else ""
    last_word = len(words) - 1

    def fits(text: str, last: bool) -> bool:
        post = text + label + (link if last else "")
        return all(m + (cw if d == 0 else 0) <= cap for d, (m, cap) in enumerate(zip(platform.measure(post), platform.maxima)))

    def join(a: int, b: int) -> str:  # words[a..b] inclusive
        return "".join(w.text + w.sep for w in words[a:b]) + words[b].text

    ends: list[int] = []
    start: int | None = None  # first word of the open post
    a = 0
    while a <= last_word:
        b = a
        while b < last_word and words[b].brk < Break.SENTENCE:
            b += 1
        if start is not None and fits(join(start, b), b == last_word):
            a = b + 1
            continue
        if fits(join(a, b), b == last_word):
            if start is not None:
                ends.append(a - 1)
            start, a = a, b + 1
            continue
        if start is not None:
            ends.append(a - 1)
        start = a
        for k in range(a, b + 1):  # word after word
            if k > start and not fits(join(start, k), k == last_word):
                ends.append(k - 1)
                start = k
            if not fits(join(start, k), k == last_word):
                raise RuntimeError("a word longer than a post: such articles are not part of this benchmark")
        a = b + 1
    ends.append(last_word)
    return ends


# --- counting -----------------------------------------------------------------------------------


@dataclass
class Tally:
    posts: int = 0
    sentence: int = 0
    clause: int = 0
    other: int = 0

    def add(self, kinds: list[str]) -> None:
        self.posts += len(kinds) + 1
        for k in kinds:
            if k in ("paragraph", "sentence"):
                self.sentence += 1
            elif k == "clause":
                self.clause += 1
            else:
                self.other += 1

    def __iadd__(self, other: Tally) -> Tally:
        self.posts += other.posts
        self.sentence += other.sentence
        self.clause += other.clause
        self.other += other.other
        return self

    def row(self) -> str:
        breaks = self.sentence + self.clause + self.other
        pct = (lambda v: f"{100 * v / breaks:5.1f}%") if breaks else (lambda v: "    -")
        return f"{self.posts:5d} {pct(self.sentence)} ({self.sentence:3d}) {pct(self.clause)} {pct(self.other)} ({self.other:3d})"


_NAMES = {Break.PARAGRAPH: "paragraph", Break.SENTENCE: "sentence", Break.CLAUSE: "clause"}


def main() -> int:
    paths = article_paths()
    kinds = ("readable", "compact", "greedy")
    totals = {(p, k): Tally() for p in PLATFORMS for k in kinds}
    header = f"{'':34} {'':8} {'posts':>5} {'sentence':>13} {'clause':>6} {'space/word':>16}"
    print(header)
    for path in paths:
        art = load_article(path)
        for name in PLATFORMS:
            plat = get_platform(name)
            for kind in kinds:
                t = Tally()
                if kind == "greedy":
                    t.add([_NAMES.get(b, "space") for b in greedy(art, plat)])
                else:
                    cut: Cut = "compact" if kind == "compact" else "readable"
                    t.add(list(format_thread(art, plat, replace(default_options(name), cut=cut)).breaks))
                totals[(name, kind)] += t
                print(f"{path.name[:34]:34} {name[:3]}:{kind[:4]:4} {t.row()}")
    print()
    print("totals (posts, % of breaks at sentence ends (count), clause ends, bare spaces or inside words (count))")
    grand = {k: Tally() for k in kinds}
    for name in PLATFORMS:
        for kind in kinds:
            grand[kind] += totals[(name, kind)]
            print(f"  {name:9} {kind:9} {totals[(name, kind)].row()}")
    for kind in kinds:
        print(f"  {'all':9} {kind:9} {grand[kind].row()}")
    print(f"articles: {len(paths)}; platforms: {', '.join(PLATFORMS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
