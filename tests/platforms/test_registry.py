"""get_platform: names, overrides and errors."""

from __future__ import annotations

import pytest

from bot.errors import BadInput
from bot.platforms import PLATFORM_NAMES, Platform, get_platform


def test_names() -> None:
    assert set(PLATFORM_NAMES) == {"x", "mastodon", "bluesky", "dryrun"}
    for name in PLATFORM_NAMES:
        p = get_platform(name)
        assert isinstance(p, Platform) and p.name == name
        assert p.measure("abc")[0] == p.length("abc")
        assert len(p.measure("abc")) == len(p.maxima)


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(BadInput, match="threads.*x, mastodon, bluesky, dryrun"):
        get_platform("threads")


def test_unknown_override_is_named() -> None:
    with pytest.raises(BadInput, match="url_length"):
        get_platform("x", url_length=23)
    with pytest.raises(BadInput, match="colour"):
        get_platform("mastodon", colour="red")


@pytest.mark.parametrize("limit", [0, -5, "500", 2.5, True])
def test_bad_limit(limit: object) -> None:
    with pytest.raises(BadInput, match="limit"):
        get_platform("mastodon", limit=limit)


def test_dryrun() -> None:
    p = get_platform("dryrun")
    assert (p.limit, p.url_length, p.supports_cw) == (500, None, False)
    assert p.length("https://example.com/a/b/c") == 25  # no URL rule
    assert p.length("👨‍👩‍👧‍👦 é") == 3
    assert p.hashtag_valid("Zelensky") and not p.hashtag_valid("2024")
    assert get_platform("dryrun", limit=100).limit == 100
