"""Slice an article into a platform-length thread, with numbering, link and hashtag budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.article import Article

Numbering = Literal["suffix", "prefix", "thread", "none"]
LinkPlacement = Literal["first", "last", "none"]
TagPlacement = Literal["inline", "end", "start", "spread", "inline+end"]


@dataclass(frozen=True)
class HashtagBudget:
    """How many hashtags a thread may carry, and where they go."""

    max_tags: int = 2
    max_per_post: int | None = None
    max_chars: int | None = None
    placement: TagPlacement = "inline+end"


@dataclass(frozen=True)
class FormatOptions:
    """Formatter options for one platform; `hashtags=None` means the platform's default budget."""

    numbering: Numbering = "suffix"
    link: LinkPlacement = "last"
    max_posts: int | None = None
    hashtags: HashtagBudget | None = None


@dataclass(frozen=True)
class Post:
    """One post of a thread: its final text and its length as the platform counts it."""

    index: int
    text: str
    length: int


@dataclass(frozen=True)
class DroppedTag:
    tag: str
    reason: str


@dataclass(frozen=True)
class Thread:
    platform: str
    limit: int
    posts: tuple[Post, ...]
    hashtags_used: tuple[str, ...] = ()
    hashtags_dropped: tuple[DroppedTag, ...] = field(default=())
