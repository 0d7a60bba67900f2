"""Hashtag candidates of an article: from its hashtag line and keywords, deduplicated, ranked, placed inline."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import regex

from bot.article import Article

_WORDS = regex.compile(r"[\p{L}\p{M}\p{N}_]+")
# CamelCase words of a tag: "GuerreUkraine" → Guerre, Ukraine; "USA" → USA; "COVID19" → COVID, 19.
_CAMEL = regex.compile(r"\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?[\p{Ll}\p{M}]+|\p{Lu}[\p{Lu}\p{M}]*|\p{N}+|\p{L}+")
# Between the words of an inline multi-word tag: spaces or hyphens only, never a line break.
_JOINER = regex.compile(r"[ \u00a0\u202f\-‐]+")
_APOSTROPHES = "'’ʼ`"


class _RecognisesHashtags(Protocol):
    def hashtag_recognised_at(self, text: str, index: int) -> bool: ...


@dataclass(frozen=True)
class Candidate:
    """A possible hashtag: `tag` without '#', the folded `words` it stands for, and its author order."""

    tag: str
    words: tuple[str, ...]
    order: int


@lru_cache(maxsize=65536)  # the words of a body repeat, and every platform folds them again
def fold(text: str) -> str:
    """Case- and accent-insensitive form: "Négociations" and "NEGOCIATIONS" fold alike."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def camel_case(keyword: str) -> str:
    """Keyword → tag: "Guerre Ukraine" → "GuerreUkraine", "Cessez-le-feu" → "CessezLeFeu".

    Accents are kept, apostrophes dropped ("l’OTAN" → "LOTAN"); other punctuation is kept so
    that the platform's validity check can reject it ("49.3").
    """
    parts = regex.split(r"[\s\-‐_]+", keyword.strip())
    out = []
    for part in parts:
        part = "".join(c for c in part if c not in _APOSTROPHES)
        if part:
            out.append(part[0].upper() + part[1:])
    return "".join(out)


def tag_words(tag: str) -> tuple[str, ...]:
    """The folded words a hashtag-line tag stands for, split at its CamelCase humps."""
    return tuple(fold(w) for w in _CAMEL.findall(tag.replace("_", " ")))


def candidates(article: Article) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Candidates in author order (hashtag line, then keywords) and the duplicates dropped.

    Duplicates are equal once folded; the first spelling wins, so the hashtag line's spelling
    beats a keyword's. A keyword duplicate lends its word split when it has more words.
    """
    kept: dict[str, Candidate] = {}
    dropped: list[tuple[str, str]] = []
    order = 0
    raw: list[tuple[str, tuple[str, ...]]] = []
    for tag in article.hashtags:
        tag = tag.lstrip("#").strip()
        if tag:
            raw.append((tag, tag_words(tag)))
    for keyword in article.keywords:
        tag = camel_case(keyword)
        if tag:
            words = tuple(fold(w) for w in _WORDS.findall(keyword))
            raw.append((tag, words))
    for tag, words in raw:
        key = fold(tag)
        if key in kept:
            first = kept[key]
            if tag != first.tag:  # the same spelling twice is not worth a line in the preview
                dropped.append((tag, f"duplicate of #{first.tag}"))
            if len(words) > len(first.words):
                kept[key] = Candidate(first.tag, words, first.order)
            continue
        kept[key] = Candidate(tag, words, order)
        order += 1
    return list(kept.values()), dropped


def rank(cands: list[Candidate], body: str) -> list[Candidate]:
    """Most relevant first (share of the tag's words found in the body), then author order."""
    present = {fold(w) for w in _WORDS.findall(body)}

    def relevance(c: Candidate) -> float:
        if not c.words:
            return 0.0
        return sum(w in present for w in c.words) / len(c.words)

    return sorted(cands, key=lambda c: (-relevance(c), c.order))


def folded_words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, folded word) for each word of `text`: computed once, matched many times."""
    return [(m.start(), m.end(), fold(m.group())) for m in _WORDS.finditer(text)]


def find_inline(
    text: str,
    cand: Candidate,
    platform: _RecognisesHashtags,
    taken: list[tuple[int, int]],
    words: list[tuple[int, int, str]] | None = None,
) -> tuple[int, int] | None:
    """Span of the first occurrence of `cand`'s words in `text` that can become the hashtag.

    Whole words, case- and accent-insensitive, separated only by spaces or hyphens; never
    inside a URL, mention or hashtag, never overlapping a span in `taken`, and only where the
    platform would recognise a '#' inserted there as the start of a hashtag.
    """
    n = len(cand.words)
    if not n:
        return None
    if words is None:
        words = folded_words(text)
    head = cand.words[0]
    for k in range(len(words) - n + 1):
        if words[k][2] != head or any(words[k + d][2] != cand.words[d] for d in range(n)):
            continue
        start, end = words[k][0], words[k + n - 1][1]
        if any(not _JOINER.fullmatch(text[words[k + d][1] : words[k + d + 1][0]]) for d in range(n - 1)):
            continue
        if any(s < end and start < e for s, e in taken):
            continue
        if _in_entity(text, start) or not platform.hashtag_recognised_at(text, start):
            continue
        return start, end
    return None


def _in_entity(text: str, index: int) -> bool:
    """True when `index` is inside a URL, a mention or an existing hashtag."""
    begin = index
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
    end = index
    while end < len(text) and not text[end].isspace():
        end += 1
    token = text[begin:end]
    if token[:1] in ("@", "#") or (index > 0 and text[index - 1] in "@#＃"):
        return True
    return "://" in token or token.lower().startswith("www.") or "/" in token[: index - begin]
