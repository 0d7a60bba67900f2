"""Property: measure is additive over a split at whitespace (the formatter relies on it)."""

from __future__ import annotations

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.platforms import PLATFORM_NAMES, get_platform

PLATFORMS = [get_platform(name) for name in PLATFORM_NAMES]

WORDS = st.sampled_from(
    [
        "Le", "l’OTAN", "«", "»", "49.3", "1,2 %", "Élysée", "naïve", "日本語", "한국어", "…",
        "e\u0301", "😷", "👨‍👩‍👧‍👦", "🇫🇷", "🙋🏽", "🐦‍🔥", "🏳️‍⚧️", "1⃣", "#️⃣", "©", "©️",
        "README.md", "example.com", "t.co/abc", "https://www.lemonde.fr/politique/article/2024/10/01/x.html",
        "http://t.co/xyz", "(https://example.com/abcdefghijklmnopq).", "gemini://a.org/b",
        "@alice", "@alice@mastodon.social", "bob@example.com", "#GuerreUkraine", "l’#OTAN",
        "\U00012000", "x" * 40, "\r",
    ]
)
SPACES = st.sampled_from([" ", "  ", "\n", "\n\n", "\u00a0", "\u202f", "\t"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, min_size=0, max_size=8))
    out = []
    for word in words:
        out.append(word)
        out.append(draw(SPACES))
    if out and draw(st.booleans()):
        out.pop()  # sometimes end without whitespace
    return "".join(out)


def _clean_split(a: str, b: str) -> bool:
    """The documented precondition: a split at whitespace that is a grapheme boundary."""
    if not (a and b):
        return True
    if not (a[-1].isspace() or b[0].isspace()):
        return False
    return len(regex.findall(r"\X", a + b)) == len(regex.findall(r"\X", a)) + len(regex.findall(r"\X", b))


@settings(max_examples=400, deadline=None)
@given(texts(), texts())
def test_measure_is_additive_at_whitespace(a: str, b: str) -> None:
    if a and b and not (a[-1].isspace() or b[0].isspace()):
        a += " "
    if not _clean_split(a, b):
        return
    for p in PLATFORMS:
        whole = p.measure(a + b)
        parts = tuple(x + y for x, y in zip(p.measure(a), p.measure(b)))
        assert whole == parts, (p.name, a, b)
        assert whole[0] == p.length(a + b)


@settings(max_examples=200, deadline=None)
@given(texts())
def test_fits_agrees_with_measure(text: str) -> None:
    for p in PLATFORMS:
        assert p.fits(text) == all(m <= cap for m, cap in zip(p.measure(text), p.maxima))
        assert p.length(text) >= 0
