"""Mastodon counting: graphemes, URLs with a scheme at url_length, remote mentions as local."""

from __future__ import annotations

import pytest

from bot.platforms import get_platform

M = get_platform("mastodon")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("abc", 3),
        ("e\u0301", 1),  # one grapheme
        ("👨‍👩‍👧‍👦", 1),
        ("🇫🇷🇺🇦", 2),
        ("…", 1),
        ("https://example.com/a/very/long/path?q=1", 23),
        ("voir https://example.com.", 5 + 23 + 1),
        ("example.com", 11),  # without a scheme a URL counts in full
        ("README.md", 9),
        ("gemini://example.org/x", 23),
        ("@alice@mastodon.social", 6),
        ("salut @alice@mastodon.social !", 6 + 6 + 2),
        ("@bob", 4),
        ("mail me: bob@example.com", 24),  # an e-mail address is not a mention
    ],
)
def test_length(text: str, expected: int) -> None:
    assert M.length(text) == expected
    assert M.measure(text) == (expected,)


def test_overrides() -> None:
    instance = get_platform("mastodon", limit=5000, url_length=30)
    assert (instance.limit, instance.url_length, instance.maxima) == (5000, 30, (5000,))
    assert instance.length("https://example.com") == 30
    assert (M.limit, M.url_length, M.supports_cw) == (500, 23, True)
    assert M.cw_length("Politique") == 9


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("GuerreUkraine", True),
        ("Zelensky", True),
        ("Élysée", True),
        ("_tag", True),
        ("2024", False),
        ("49.3", False),
        ("a-b", False),
        ("", False),
    ],
)
def test_hashtag_valid(tag: str, valid: bool) -> None:
    assert M.hashtag_valid(tag) is valid


@pytest.mark.parametrize(
    ("text", "index", "recognised"),
    [
        ("OTAN", 0, True),
        ("le OTAN", 3, True),
        ("le\u00a0OTAN", 3, True),
        ("l’OTAN", 2, False),
        ("(OTAN)", 1, False),
    ],
)
def test_hashtag_recognised_at(text: str, index: int, recognised: bool) -> None:
    assert M.hashtag_recognised_at(text, index) is recognised
