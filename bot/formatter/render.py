"""Rendering: the final text of each post (numbering, body, "…", hashtag block, link), checked."""

from __future__ import annotations

from bot.formatter.breaks import Units, kind_name
from bot.formatter.layout import ELLIPSIS, Job, Layout
from bot.formatter.numbering import numbering_label
from bot.formatter.options import BreakKind, Post


def post_texts(job: Job, units: Units, lay: Layout, tag_blocks: dict[int, str]) -> list[tuple[str, str]]:
    """Each post as (everything before the link, the link block): numbering, body, "…", tags."""
    n = len(lay.ends)
    out: list[tuple[str, str]] = []
    start = 0
    for idx, stop in enumerate(lay.ends, 1):
        pre, suf = numbering_label(job.options.numbering, idx, n)
        body = units.text(start, stop)
        if lay.truncated and idx == n:
            body += ELLIPSIS
        link = ""
        if job.url and ((job.options.link == "first" and idx == 1) or (job.options.link == "last" and idx == n)):
            link = job.link_block
        out.append((pre + body + suf + tag_blocks.get(idx, ""), link))
        start = stop
    return out


def render(job: Job, units: Units, lay: Layout, tag_blocks: dict[int, str]) -> list[Post]:
    """The final posts, each checked against the limit one last time."""
    texts = post_texts(job, units, lay, tag_blocks)
    posts = [_checked(job, idx, head + link) for idx, (head, link) in enumerate(texts, 1)]
    if not posts and (job.url or tag_blocks):
        posts.append(_checked(job, 1, (tag_blocks.get(1, "") + job.link_block).lstrip()))
    return posts


def break_kinds(units: Units, lay: Layout) -> tuple[BreakKind, ...]:
    """The quality of the break after each post but the last."""
    return tuple(kind_name(units.brks[e - 1]) for e in lay.ends[:-1])


def _checked(job: Job, idx: int, text: str) -> Post:
    if not job.fits(text):
        # The packers only pack what fits; reaching this is a bug in counting additivity, not input.
        raise AssertionError(f"formatter bug: post {idx} over {job.maxima} on {job.platform.name}: {text!r}")
    length = job.platform.length(text) + (job.platform.cw_length(job.cw) if job.cw else 0)
    return Post(index=idx, text=text, length=length, cw=job.cw)
