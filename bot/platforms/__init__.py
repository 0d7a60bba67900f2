"""Platform profiles: each platform's limits and its exact way of counting a post."""

from __future__ import annotations

from typing import Any

from bot.errors import BadInput
from bot.platforms.base import Platform
from bot.platforms.bluesky import Bluesky
from bot.platforms.dryrun import DryRun
from bot.platforms.mastodon import Mastodon
from bot.platforms.x import X

_PROFILES: dict[str, type[Platform]] = {
    "x": X,
    "mastodon": Mastodon,
    "bluesky": Bluesky,
    "dryrun": DryRun,
}
PLATFORM_NAMES: tuple[str, ...] = tuple(_PROFILES)

__all__ = ["PLATFORM_NAMES", "Platform", "get_platform"]


def get_platform(name: str, **overrides: Any) -> Platform:
    """The profile for `name` ('x', 'mastodon', 'bluesky', 'dryrun').

    Overrides: `limit` everywhere (X Premium, a Mastodon instance's `max_characters`);
    `url_length` for Mastodon (`characters_reserved_per_url`); `max_bytes` for Bluesky.
    Raises BadInput for an unknown name, an unknown override or a non-positive value.
    """
    try:
        cls = _PROFILES[name]
    except (KeyError, TypeError):
        known = ", ".join(PLATFORM_NAMES)
        raise BadInput(f"unknown platform {name!r}; known platforms: {known}") from None
    for keyword in overrides:
        if keyword not in cls.overrides:
            allowed = ", ".join(cls.overrides)
            raise BadInput(
                f"unknown option {keyword!r} for platform {name!r}; allowed: {allowed}"
            )
    return cls(**overrides)
