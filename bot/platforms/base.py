"""The Platform base class: a platform's caps and how it counts text against them."""

from __future__ import annotations

import re
from functools import cache

import regex

from bot.errors import BadInput

_GRAPHEME = regex.compile(r"\X")
# Code points that can join a neighbour into one cluster (UAX #29 rules GB3-GB13). Every other
# code point is a cluster boundary on both sides, so only the windows around these need \X.
_JOINING_PROPERTIES = (
    r"[\r\n\p{Grapheme_Cluster_Break=Extend}\p{Grapheme_Cluster_Break=ZWJ}"
    r"\p{Grapheme_Cluster_Break=SpacingMark}\p{Grapheme_Cluster_Break=Prepend}"
    r"\p{Grapheme_Cluster_Break=Regional_Indicator}\p{Hangul_Syllable_Type=L}"
    r"\p{Hangul_Syllable_Type=V}\p{Hangul_Syllable_Type=T}\p{Hangul_Syllable_Type=LV}"
    r"\p{Hangul_Syllable_Type=LVT}]"
)


# A coarse class of the blocks where joining code points live: typography (’ « — … U+202F),
# Latin-1, Latin Extended and CJK ideographs are outside it, so prose rarely hits it, and each
# hit is then checked against the exact set.
_MAYBE_JOINING = re.compile(
    "[\r\n\u0300-\u036f\u0483-\u0489\u0591-\u1fff\u200c\u200d\u20d0-\u20ff\u2cef-\u2cf1\u2d7f\u2de0-\u2dff"
    "\u302a-\u302f\u3099\u309a\ua000-\ud7ff\ufb1e\ufe00-\ufe2f\uff00-\uffef"
    "\U00010000-\U0010ffff]"
)


class _JoiningCache(dict[str, bool]):
    """Is a code point one that can join a neighbour? Asked of `_JOINING_PROPERTIES` once per
    code point met, instead of scanning all of Unicode at import (~70 ms)."""

    def __missing__(self, ch: str) -> bool:
        joins = self[ch] = _joining_properties().match(ch) is not None
        return joins


@cache
def _joining_properties() -> regex.Pattern[str]:
    return regex.compile(_JOINING_PROPERTIES)


_JOINS = _JoiningCache()


def graphemes(text: str) -> int:
    """Number of extended grapheme clusters (what users see as characters), as `\\X` counts them.

    Fast: code points counted directly, and `\\X` run only on the windows around code points that
    can join a neighbour (a run of them plus one code point each side).
    """
    if text.isascii() and "\r" not in text:
        return len(text)  # in ASCII only CR LF joins two code points
    total = len(text)
    n = total
    win_start = win_end = -1
    for m in _MAYBE_JOINING.finditer(text):
        i = m.start()
        if not _JOINS[text[i]]:
            continue
        start, end = max(i - 1, 0), min(i + 2, n)
        if start < win_end:  # overlapping windows are merged before counting
            win_end = end
            continue
        if win_end > 0:
            total += len(_GRAPHEME.findall(text, win_start, win_end)) - (win_end - win_start)
        win_start, win_end = start, end
    if win_end > 0:
        total += len(_GRAPHEME.findall(text, win_start, win_end)) - (win_end - win_start)
    return total


class Platform:
    """A platform profile: its name, its caps, and its own way of counting.

    Contract for subclasses and callers:
    - `length(text)` is the length exactly as the platform counts it; `measure(text)[0] == length(text)`.
    - `measure(text)` returns every capped quantity, in the order of `maxima`.
    - Additivity: when `a + b` splits at whitespace (`a` ends with whitespace or `b` starts with it)
      and the split is a grapheme-cluster boundary (not inside CR LF, and `b` does not start with a
      combining mark or joiner), `measure(a + b) == measure(a) + measure(b)` element by element.
      URLs, mentions and emoji sequences never span whitespace, so the formatter may count each
      token once and add.
    """

    name: str = ""
    default_limit: int = 500
    url_length: int | None = None
    supports_cw: bool = False
    #: the override keywords `get_platform` accepts for this platform
    overrides: tuple[str, ...] = ("limit",)

    def __init__(self, limit: int | None = None) -> None:
        self.limit: int = _positive("limit", self.default_limit if limit is None else limit)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} limit={self.limit}>"

    def length(self, text: str) -> int:
        """Length of `text` as the platform counts it."""
        raise NotImplementedError

    def measure(self, text: str) -> tuple[int, ...]:
        """All the quantities the platform caps, in the order of `maxima`."""
        return (self.length(text),)

    @property
    def maxima(self) -> tuple[int, ...]:
        """The caps, in the order of `measure`."""
        return (self.limit,)

    def fits(self, text: str) -> bool:
        """True when every measured quantity is within its cap."""
        return all(m <= cap for m, cap in zip(self.measure(text), self.maxima))

    def display(self, text: str) -> str:
        """The text as the platform will show it (unchanged unless the platform rewrites it)."""
        return text

    def cw_length(self, cw: str) -> int:
        """What a content warning adds to the post's count (only where `supports_cw`)."""
        return graphemes(cw) if self.supports_cw else 0

    def hashtag_valid(self, tag: str) -> bool:
        """Would the platform link `#` + `tag` (tag given without '#') as a hashtag?"""
        raise NotImplementedError

    def hashtag_recognised_at(self, text: str, index: int) -> bool:
        """Would a '#' inserted at `text[index]` start a hashtag, given the character before it?"""
        return index <= 0 or _space_before(text, index)


_SPACE = regex.compile(r"[[:space:]]")


def _space_before(text: str, index: int) -> bool:
    return _SPACE.match(text[index - 1]) is not None


def _positive(keyword: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadInput(f"platform option {keyword!r} must be a positive whole number, not {value!r}")
    return value
