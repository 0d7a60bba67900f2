"""Platform profiles: each platform's limits and its exact way of counting a post."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from bot.errors import BadInput
from bot.platforms.base import Platform

# Each profile's module is imported when the profile is first asked for: X's counting needs the
# URL and emoji tables, Mastodon's its URL rules, and a command that formats for one platform
# should not pay for the others.
_PROFILES: dict[str, tuple[str, str]] = {
    "x": ("bot.platforms.x", "X"),
    "mastodon": ("bot.platforms.mastodon", "Mastodon"),
    "bluesky": ("bot.platforms.bluesky", "Bluesky"),
    "dryrun": ("bot.platforms.dryrun", "DryRun"),
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
        module, attr = _PROFILES[name]
    except (KeyError, TypeError):
        known = ", ".join(PLATFORM_NAMES)
        raise BadInput(f"unknown platform {name!r}; known platforms: {known}") from None
    cls: type[Platform] = getattr(import_module(module), attr)
    for keyword in overrides:
        if keyword not in cls.overrides:
            allowed = ", ".join(cls.overrides)
            raise BadInput(
                f"unknown option {keyword!r} for platform {name!r}; allowed: {allowed}"
            )
    return cls(**overrides)
