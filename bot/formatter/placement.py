"""Hashtag placement: spend the budget on the ranked candidates in the room the cut leaves.

The body is cut first; then each candidate, best first, goes inline where its words are (when
the placement allows it and the post holding them has room), else into a tag block: the last
post for "end", the first for "start", the next post round the thread for "spread", and when
that post is full, any other post with room. A tag is dropped for "no room" only when no post of
the thread can carry it, and a dropped tag frees its `max_tags` place for the next candidate.
Tags never add a post. With `cut: compact` a tag that finds no room may re-cut the body (same
post count) to make room, as the fewest-posts layout leaves little.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from bot import hashtags as tagging
from bot.formatter.breaks import Units
from bot.formatter.layout import Job, Layout
from bot.formatter.options import HashtagBudget
from bot.formatter.render import post_texts

TAG_BLOCK_SEP = "\n\n"
Span = tuple[int, int]


@dataclass
class Placement:
    """The body with its inline tags, its layout, the tag block of each post, and the tags used."""

    units: Units
    layout: Layout
    blocks: dict[int, str] = field(default_factory=dict)
    inline: list[tuple[tagging.Candidate, Span]] = field(default_factory=list)
    outside: list[tuple[tagging.Candidate, int]] = field(default_factory=list)  # (tag, post index)

    def used(self) -> list[tagging.Candidate]:
        return [c for c, _ in self.inline] + [c for c, _ in self.outside]


def place_hashtags(
    job: Job,
    budget: HashtagBudget,
    body: str,
    ranked: list[tagging.Candidate],
    base: Units,
    layout: Layout,
    drop: Callable[[str, str], object],
) -> Placement:
    """Place the ranked candidates on `layout` of `base` (the body without tags); see the module."""
    return _Placer(job, budget, body, base, layout, drop).run(ranked)


class _Placer:
    def __init__(
        self, job: Job, budget: HashtagBudget, body: str, base: Units, layout: Layout, drop: Callable[[str, str], object]
    ) -> None:
        self.job = job
        self.budget = budget
        self.body = body
        self.base = base
        self.drop = drop
        self.n0 = len(layout.ends)
        self.state = Placement(base, layout)
        self.chars = 0
        self.cursor = 0
        placement = budget.placement
        self.can_inline = placement in ("inline", "inline+end")
        self.can_outside = placement != "inline"
        self.words = tagging.folded_words(body) if self.can_inline else []

    def run(self, ranked: list[tagging.Candidate]) -> Placement:
        for cand in ranked:
            if len(self.state.inline) + len(self.state.outside) >= self.budget.max_tags:
                self.drop(cand.tag, "over max_tags")
                continue
            reason = "not in text"
            if self.can_inline:
                got = self._inline(cand)
                if got is None:
                    continue
                reason = got
            if self.can_outside and self.state.layout.ends:
                got = self._outside(cand)
                if got is None:
                    continue
                reason = got
            self.drop(cand.tag, reason)
        return self.state

    # --- inline ------------------------------------------------------------------------------

    def _inline(self, cand: tagging.Candidate) -> str | None:
        """Turn `cand`'s words into the tag; None when placed, else the reason it was not."""
        st = self.state
        taken = [s for _, s in st.inline]
        span = tagging.find_inline(self.body, cand, self.job.platform, taken, self.words)
        if span is None:
            return "not in text"
        cost = max(0, self.job.measure("#" + cand.tag)[0] - self.job.measure(self.body[span[0] : span[1]])[0])
        if self.budget.max_chars is not None and self.chars + cost > self.budget.max_chars:
            return "over max_chars"
        inline = st.inline + [(cand, span)]
        units = self.base.replaced([(a, b, "#" + c.tag) for c, (a, b) in inline])
        ends = _remap(st.layout.ends, self._merges(st.inline), self._merges(inline))
        if ends is not None:
            trial = Placement(units, Layout(ends, units.n, st.layout.truncated), dict(st.blocks), inline, list(st.outside))
            if self._acceptable(trial):
                self._accept(trial, cost)
                return None
        if self.job.options.cut == "compact" and not st.blocks:
            replanned = self.job.layout(units)
            if replanned is not None and len(replanned.ends) <= self.n0:
                trial = Placement(units, replanned, {}, inline, [])
                if self._acceptable(trial):
                    self._accept(trial, cost)
                    return None
        return "no room"

    def _merges(self, inline: list[tuple[tagging.Candidate, Span]]) -> list[Span]:
        """The base units each inline tag joins into one unit, as (first, last) indices."""
        return sorted((self.base.unit_at(a), self.base.unit_at(b - 1)) for _, (a, b) in inline)

    # --- outside the body ---------------------------------------------------------------------

    def _outside(self, cand: tagging.Candidate) -> str | None:
        """Put `cand` in a tag block; None when placed, else the reason it was not."""
        st = self.state
        n = len(st.layout.ends)
        where = self.budget.placement
        if where == "start":
            order = list(range(1, n + 1))
        elif where == "spread":
            order = [((self.cursor + k) % n) + 1 for k in range(n)]
        else:
            order = list(range(n, 0, -1))
        reason = "no room"
        for rank, idx in enumerate(order):
            block = st.blocks.get(idx, "")
            piece = (TAG_BLOCK_SEP if not block else " ") + "#" + cand.tag
            cost = self.job.measure(piece)[0]
            if self.budget.max_chars is not None and self.chars + cost > self.budget.max_chars:
                return "over max_chars"
            blocks = dict(st.blocks)
            blocks[idx] = block + piece
            trial = Placement(st.units, st.layout, blocks, st.inline, st.outside + [(cand, idx)])
            if self._over_per_post(trial):
                reason = "over max_per_post"
                continue
            if self._all_fit(trial):
                self._accept(trial, cost, idx)
                return None
            if rank == 0 and where != "spread" and self.job.options.cut == "compact" and set(blocks) == {idx}:
                # The fewest-posts layout is full: re-cut the body with the block's room reserved.
                kw = {"first_tags": blocks[idx]} if where == "start" else {"last_tags": blocks[idx]}
                replanned = self.job.layout(st.units, **kw)
                if replanned is not None and len(replanned.ends) == n and replanned.end == st.layout.end:
                    trial = Placement(st.units, replanned, blocks, st.inline, st.outside + [(cand, idx)])
                    if self._acceptable(trial):
                        self._accept(trial, cost, idx)
                        return None
        return reason

    # --- checks -------------------------------------------------------------------------------

    def _accept(self, trial: Placement, cost: int, idx: int | None = None) -> None:
        self.state = trial
        self.chars += cost
        if idx is not None:
            self.cursor = idx

    def _acceptable(self, trial: Placement) -> bool:
        return not self._over_per_post(trial) and self._all_fit(trial)

    def _all_fit(self, trial: Placement) -> bool:
        texts = post_texts(self.job, trial.units, trial.layout, trial.blocks)
        return all(self.job.fits(head + link) for head, link in texts)

    def _over_per_post(self, trial: Placement) -> bool:
        limit = self.budget.max_per_post
        if limit is None:
            return False
        per_post: dict[int, int] = {}
        for _, idx in trial.outside:
            per_post[idx] = per_post.get(idx, 0) + 1
        ends = _remap(trial.layout.ends, self._merges(trial.inline), [])
        if ends is None:
            return True
        for _, (a, _b) in trial.inline:
            post = bisect_right(ends, self.base.unit_at(a)) + 1
            per_post[post] = per_post.get(post, 0) + 1
        return any(v > limit for v in per_post.values())


def _remap(ends: tuple[int, ...], old: list[Span], new: list[Span]) -> tuple[int, ...] | None:
    """Post ends over units merged as `old` (base (first, last) ranges) → over units merged as `new`.

    None when a post end would fall inside a merged range (the tag would straddle two posts).
    """
    out = []
    for e in ends:
        base = e
        for a, b in old:  # current → base: every merge wholly before the end shifts it
            if a - (base - e) < e:
                base += b - a
            else:
                break
        shift = 0
        for a, b in new:
            if a < base <= b:
                return None
            if b < base:
                shift += b - a
        out.append(base - shift)
    return tuple(out)
