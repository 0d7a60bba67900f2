"""Cut an article into a platform-length thread, with numbering, link and hashtag budget.

The parts, in the order a thread is made: `breaks` (where the body may be cut and how good each
place is), `packing` (the compact and readable objectives), `layout` (one job: fixed parts of
posts, numbering width, truncation), `placement` (hashtags in the room the cut leaves),
`render` (the final texts), `numbering` (labels), `options` (the public data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import hashtags as tagging
from bot.article import Article
from bot.formatter.layout import Job
from bot.formatter.options import (
    BreakKind,
    Cut,
    DroppedTag,
    FormatOptions,
    HashtagBudget,
    LinkPlacement,
    Numbering,
    Post,
    TagPlacement,
    Thread,
    default_options,
)
from bot.formatter.placement import place_hashtags
from bot.formatter.render import break_kinds, render

if TYPE_CHECKING:
    from bot.platforms import Platform

__all__ = [
    "BreakKind",
    "Cut",
    "DroppedTag",
    "FormatOptions",
    "HashtagBudget",
    "LinkPlacement",
    "Numbering",
    "Post",
    "TagPlacement",
    "Thread",
    "default_options",
    "format_thread",
]


def format_thread(article: Article, platform: Platform | str, options: FormatOptions | None = None) -> Thread:
    """Cut `article` into a thread for `platform` (a Platform or its name).

    Every post fits the platform's limit as it counts it, numbering, link, hashtags and (on
    Mastodon) the content warning included. The body's words come out in order. With
    `cut="readable"` (the default) posts end at paragraph, sentence and clause ends, with never
    more posts than a greedy sentence packer; with `cut="compact"` the fewest posts, then the
    best breaks. Hashtags never add a post: what does not fit the budget or the room is in
    `hashtags_dropped` with the reason. Deterministic: the same input gives the same thread.
    """
    plat = _resolve_platform(platform)
    opts = options or default_options(plat.name)
    budget = opts.hashtags or default_options(plat.name).hashtags or HashtagBudget()
    job = Job(article, plat, opts)
    body = article.body.strip()
    cands, dups = tagging.candidates(article)
    # Each candidate gets at most one verdict; duplicates are reported under their own spelling.
    dropped: dict[str, str] = {}
    valid, invalid = [], []
    for c in cands:
        if plat.hashtag_valid(c.tag):
            valid.append(c)
        else:
            invalid.append(c)
            dropped.setdefault(c.tag, f"invalid on {plat.name}")
    ranked = tagging.rank(valid, body)

    units = job.units(body)
    layout = job.layout(units)
    if layout is None:
        raise AssertionError("formatter bug: no layout for the body alone")
    placed = place_hashtags(job, budget, body, ranked, units, layout, dropped.setdefault)
    used = {c.tag for c in placed.used()}
    posts = render(job, placed.units, placed.layout, placed.blocks)
    return Thread(
        platform=plat.name,
        limit=plat.limit,
        posts=tuple(posts),
        hashtags_used=tuple(c.tag for c in ranked if c.tag in used),
        hashtags_dropped=tuple(
            [DroppedTag(t, r) for t, r in dups if t not in used]
            + [DroppedTag(c.tag, dropped[c.tag]) for c in ranked + invalid if c.tag in dropped]
        ),
        breaks=break_kinds(placed.units, placed.layout),
    )


def _resolve_platform(platform: Platform | str) -> Platform:
    if isinstance(platform, str):
        from bot.platforms import get_platform

        return get_platform(platform)
    return platform
