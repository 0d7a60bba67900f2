"""Platforms: each one's plug-in (bot.platforms.plugin), and its exact way of counting a post."""

from __future__ import annotations

from typing import Any

from bot.errors import BadInput
from bot.platforms.base import Platform
from bot.platforms.plugin import MediaLimits, PlatformPlugin
from bot.platforms.registry import builtin_names, get_plugin, plugin_names

# Each profile's module is imported when the profile is first asked for: X's counting needs the
# URL and emoji tables, Mastodon's its URL rules, and a command that formats for one platform
# should not pay for the others.
PLATFORM_NAMES: tuple[str, ...] = builtin_names()

__all__ = ["PLATFORM_NAMES", "MediaLimits", "Platform", "PlatformPlugin", "get_platform", "get_plugin",
           "plugin_names"]


def get_platform(name: str, **overrides: Any) -> Platform:
    """The counting profile for platform `name` ('x', 'mastodon', 'bluesky', 'dryrun', a plug-in's).

    Overrides: `limit` everywhere (X Premium, a Mastodon instance's `max_characters`);
    `url_length` for Mastodon (`characters_reserved_per_url`); `max_bytes` for Bluesky.
    Raises BadInput for an unknown name, an unknown override or a non-positive value.
    """
    cls = get_plugin(name).profile_class()
    for keyword in overrides:
        if keyword not in cls.overrides:
            allowed = ", ".join(cls.overrides)
            raise BadInput(
                f"unknown option {keyword!r} for platform {name!r}; allowed: {allowed}"
            )
    return cls(**overrides)
