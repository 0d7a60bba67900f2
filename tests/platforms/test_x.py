"""X counting: the twitter-text v3 weighted length and X's hashtag rules."""

from __future__ import annotations

import unicodedata

import pytest

from bot.platforms import get_platform
from bot.platforms.emoji_seq import EMOJI_VERSION_CUTOFF

X = get_platform("x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("abc", 3),
        ("é", 1),
        ("…", 2),  # U+2026 is outside the weight-100 ranges
        ("\u202f", 2),  # narrow no-break space, French typography
        ("’«»—", 4),  # these are in the weight-100 ranges
        ("日本", 4),
        ("README.md", 23),  # a bare file name with a valid TLD is a URL
        ("voir example.com", 5 + 23),
        ("https://www.lemonde.fr/politique/article/2024/10/01/budget.html", 23),
        ("49.3", 4),
        ("😷", 2),
        ("👨‍👩‍👧‍👦", 2),
        ("🇫🇷", 2),
        ("1⃣", 2),
        ("#️⃣", 2),
        ("🙋🏽", 2),
        ("🧑‍🌾", 2),  # Emoji 12.1: within twitter-text's data
        ("🐦‍🔥", 5),  # Emoji 15.1: by its parts, 🐦 + ZWJ + 🔥
        ("🏳️‍⚧️", 7),  # Emoji 13.0: by its parts, 🏳️ + ZWJ + ⚧ + VS16
        ("©", 1),
        ("©️", 2),
    ],
)
def test_weighted_length(text: str, expected: int) -> None:
    assert X.length(text) == expected
    assert X.measure(text) == (expected,)


def test_cutoff_is_documented_version() -> None:
    assert EMOJI_VERSION_CUTOFF == 12.1


def test_nfc_first() -> None:
    decomposed = unicodedata.normalize("NFD", "Élysée")
    assert len(decomposed) == 8
    assert X.length(decomposed) == 6


def test_limits_and_fits() -> None:
    assert (X.name, X.limit, X.maxima, X.url_length, X.supports_cw) == ("x", 280, (280,), 23, False)
    assert X.fits("a" * 280) and not X.fits("a" * 281)
    assert not X.fits("…" * 141)
    premium = get_platform("x", limit=4000)
    assert premium.limit == 4000 and premium.fits("a" * 4000)
    assert X.display("https://example.com/a/very/long/path") == "https://example.com/a/very/long/path"


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("GuerreUkraine", True),
        ("Zelensky", True),
        ("Élysée", True),
        ("café_crème", True),
        ("1st", True),
        ("2024", False),
        ("49.3", False),
        ("", False),
        ("l’OTAN", False),
        ("a-b", False),
        ("\ufe0ftag", False),
    ],
)
def test_hashtag_valid(tag: str, valid: bool) -> None:
    assert X.hashtag_valid(tag) is valid


@pytest.mark.parametrize(
    ("text", "index", "recognised"),
    [
        ("OTAN", 0, True),
        ("l’OTAN", 2, True),  # twitter-text links "l’#OTAN": ’ is not a hashtag character
        ("(OTAN)", 1, True),
        ("le OTAN", 3, True),
        ("xOTAN", 1, False),
        ("éOTAN", 1, False),
        ("4OTAN", 1, False),
        ("_OTAN", 1, False),
        ("&OTAN", 1, False),
        ("👍\ufe0fOTAN", 2, True),
    ],
)
def test_hashtag_recognised_at(text: str, index: int, recognised: bool) -> None:
    assert X.hashtag_recognised_at(text, index) is recognised
