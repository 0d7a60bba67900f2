"""Bluesky counting: graphemes and UTF-8 bytes of the text with links shortened as the app does."""

from __future__ import annotations

import pytest

from bot.platforms import get_platform
from bot.platforms.bluesky import to_short_url

B = get_platform("bluesky")


@pytest.mark.parametrize(
    ("url", "short"),
    [
        ("https://example.com", "example.com"),
        ("https://example.com/", "example.com"),
        ("https://www.example.com/abc", "www.example.com/abc"),
        ("https://example.com/12345678901234", "example.com/12345678901234"),  # 15: kept
        ("https://example.com/123456789012345", "example.com/123456789012..."),  # 16: cut
        ("https://example.com/1234567890123456", "example.com/123456789012..."),
        ("https://EXAMPLE.com/a?b=c#d", "example.com/a?b=c#d"),
        ("http://example.com:8080/x", "example.com:8080/x"),
        ("https://example.com:443/x", "example.com/x"),
        ("https://fr.wikipedia.org/wiki/Élysée", "fr.wikipedia.org/wiki/%C3%89l..."),
        ("ftp://example.com/very/long/path/indeed", "ftp://example.com/very/long/path/indeed"),
    ],
)
def test_to_short_url(url: str, short: str) -> None:
    assert to_short_url(url) == short


def test_display_and_measure() -> None:
    text = "Lire https://www.lemonde.fr/politique/article/2024/10/01/budget.html."
    shown = "Lire www.lemonde.fr/politique/ar...."  # "..." then the sentence's "."
    assert B.display(text) == shown
    assert B.length(text) == len(shown)
    assert B.measure(text) == (len(shown), len(shown.encode()))
    assert B.display("voir example.com/long/path/here/too") == "voir example.com/long/path/here/too"
    assert B.display("(https://example.com/abcdefghijklmnopq)") == "(example.com/abcdefghijkl...)"


def test_caps() -> None:
    assert (B.limit, B.maxima, B.supports_cw) == (300, (300, 3000), False)
    assert B.fits("é" * 300)
    assert not B.fits("é" * 301)
    assert not B.fits("\U00012000" * 300 + "a" * 1801)  # over 3000 bytes
    assert B.measure("👨‍👩‍👧‍👦") == (1, 25)


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("GuerreUkraine", True),
        ("Zelensky", True),
        ("Élysée", True),
        ("2024", False),
        ("49.3", False),
        ("tag!", False),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
    ],
)
def test_hashtag_valid(tag: str, valid: bool) -> None:
    assert B.hashtag_valid(tag) is valid


def test_hashtag_recognised_at() -> None:
    assert B.hashtag_recognised_at("OTAN", 0)
    assert B.hashtag_recognised_at("le OTAN", 3)
    assert not B.hashtag_recognised_at("l’OTAN", 2)
    assert not B.hashtag_recognised_at("(OTAN", 1)
