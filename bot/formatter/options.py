"""The formatter's public data: options, hashtag budgets, and the thread it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Numbering = Literal["suffix", "prefix", "thread", "none"]
LinkPlacement = Literal["first", "last", "none"]
TagPlacement = Literal["inline", "end", "start", "spread", "inline+end"]
Cut = Literal["readable", "compact"]
#: The quality of one break, as `Thread.breaks` reports it (best first).
BreakKind = Literal["paragraph", "sentence", "clause", "space", "word"]


@dataclass(frozen=True)
class HashtagBudget:
    """How many hashtags a thread may carry, and where they go.

    `max_tags` counts the whole thread; `max_per_post` each post (inline tags included);
    `max_chars` the characters the tags add across the thread, as the platform counts them.
    `placement`: "inline" turns words of the body into tags, "end"/"start" put them in the
    last/first post, "spread" over the posts with room, "inline+end" inline first, then the rest
    at the end. A tag that fits nowhere else goes to any post with room; it is dropped for
    "no room" only when no post of the thread can carry it.
    """

    max_tags: int = 2
    max_per_post: int | None = None
    max_chars: int | None = None
    placement: TagPlacement = "inline+end"


@dataclass(frozen=True)
class FormatOptions:
    """Formatter options for one platform; `hashtags=None` means the platform's default budget.

    `cut="readable"` weighs the number of posts against the quality of every break and never
    uses more posts than a greedy sentence packer; `cut="compact"` uses the fewest posts, then
    the best breaks among those layouts.
    """

    numbering: Numbering = "suffix"
    link: LinkPlacement = "last"
    max_posts: int | None = None
    hashtags: HashtagBudget | None = None
    cut: Cut = "readable"


@dataclass(frozen=True)
class Post:
    """One post of a thread: its final text and its length as the platform counts it.

    On a platform where the content warning counts toward the limit (Mastodon), `length`
    includes it and `cw` carries it.
    """

    index: int
    text: str
    length: int
    cw: str | None = None


@dataclass(frozen=True)
class DroppedTag:
    """A hashtag candidate left out of the thread, and why."""

    tag: str
    reason: str


@dataclass(frozen=True)
class Thread:
    """The formatted thread; `breaks` holds the quality of the break after each post but the last."""

    platform: str
    limit: int
    posts: tuple[Post, ...]
    hashtags_used: tuple[str, ...] = ()
    hashtags_dropped: tuple[DroppedTag, ...] = field(default=())
    breaks: tuple[BreakKind, ...] = ()


def default_options(platform_name: str) -> FormatOptions:
    """The platform plug-in's `default_format` (few tags on X and Bluesky, more at the end on
    Mastodon); a plug-in that says nothing, or a profile no loaded plug-in has (one made by hand),
    gets the general defaults with a `HashtagBudget()`. Pure: it looks at the plug-ins already
    known and never scans the installed packages.

    :raises BadInput: a plug-in whose default format names an unknown option
    """
    from bot.errors import BadInput
    from bot.platforms.registry import loaded_plugin

    plugin = loaded_plugin(platform_name)
    settings = dict(plugin.default_format) if plugin is not None else {}
    try:
        settings["hashtags"] = HashtagBudget(**settings.get("hashtags") or {})
        return FormatOptions(**settings)
    except TypeError as exc:
        raise BadInput(f"platform {platform_name!r}: its default format is invalid: {exc}") from None
