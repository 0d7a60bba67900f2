"""The counting profile of a plug-in platform that brings none: grapheme clusters, 500 by default."""

from __future__ import annotations

from functools import cache

from bot.platforms.dryrun import DryRun
from bot.platforms.base import Platform


@cache
def generic_profile(name: str) -> type[Platform]:
    """A profile named `name` that counts as the dry run does (every character as written,
    hashtags after whitespace); `limit` sets its cap."""
    return type(f"Generic[{name}]", (DryRun,), {"name": name, "__doc__": generic_profile.__doc__})
