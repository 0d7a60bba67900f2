"""One formatting job: the platform, the options, the fixed parts of posts, and the layout.

`Job.layout` turns measured units into post ends with the objective the options ask for
(readable or compact), iterating on the post count because numbering width depends on it,
and truncating at a sentence end (then "…") when `max_posts` cannot hold the body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from bot.article import Article
from bot.errors import BadInput
from bot.formatter.breaks import Measure, Measurer, Units, add
from bot.formatter.numbering import THREAD_MARKER, every_post_labels
from bot.formatter.options import FormatOptions
from bot.formatter.packing import Caps, Extras, fewest_posts, greedy_posts, plan_compact, plan_readable
from bot.segment import Break

if TYPE_CHECKING:
    from bot.platforms import Platform

ELLIPSIS = " …"
LINK_SEP = "\n\n"
_ROUNDS = 8  # the numbering width converges in two or three rounds: widths only grow


class Layout(NamedTuple):
    """Post ends (unit indices, the last is `end`), where the body stops, and whether it was cut short."""

    ends: tuple[int, ...]
    end: int
    truncated: bool


class Job:
    """One call of `format_thread`: the platform, the options and the fixed parts of posts."""

    def __init__(self, article: Article, platform: Platform, options: FormatOptions) -> None:
        self.article = article
        self.platform = platform
        self.options = options
        self.maxima: Measure = tuple(platform.maxima)
        self.measure = Measurer(platform.measure, len(self.maxima))
        self.zero: Measure = (0,) * len(self.maxima)
        self.cw = article.cw if (getattr(platform, "supports_cw", False) and article.cw) else None
        # The content warning counts toward every post's limit where the platform says so.
        self.cw_cost: Measure = (platform.cw_length(self.cw),) + self.zero[1:] if self.cw else self.zero
        self.url = article.url if options.link != "none" and article.url else None
        self.link_block = LINK_SEP + self.url if self.url else ""
        # The smallest room any post can have without optional tags: a unit longer than this
        # is hard-cut (generous numbering width, so it never depends on the final count).
        worst = add(self.cw_cost, self.measure(" 999/999"))
        worst = add(worst, self.measure(self.link_block))
        worst = add(worst, self.measure(ELLIPSIS))
        worst = add(worst, self.measure(THREAD_MARKER))
        self.hard_cap: Measure = tuple(max(1, m - w) for m, w in zip(self.maxima, worst))
        if any(m - c - lk < 1 for m, c, lk in zip(self.maxima, self.cw_cost, self.measure(self.link_block))):
            raise BadInput(f"{article.path or 'article'}: the link and content warning leave no room on {platform.name}")

    def units(self, text: str) -> Units:
        return Units.of_text(text, self.article.lang, self.measure, self.hard_cap)

    def fits(self, text: str) -> bool:
        """Does `text` fit one post, content warning included?"""
        measured = add(self.measure(text), self.cw_cost)
        return all(m <= limit for m, limit in zip(measured, self.maxima))

    def extras(self, n: int, first_tags: str = "", last_tags: str = "", truncated: bool = False) -> Extras:
        """Measures of the fixed parts when the thread has `n` posts."""
        style = self.options.numbering
        every = self.cw_cost
        first = self.measure(first_tags)
        last = add(self.measure(last_tags), self.measure(ELLIPSIS) if truncated else self.zero)
        widest = self.zero
        for label in every_post_labels(style, n):
            widest = tuple(map(max, widest, self.measure(label)))
        every = add(every, widest)
        if n > 1 and style == "thread":
            first = add(first, self.measure(THREAD_MARKER))
        if self.url:
            link = self.measure(self.link_block)
            if self.options.link == "first":
                first = add(first, link)
            else:
                last = add(last, link)
        return Extras(every, first, last)

    def caps(self, n: int, first_tags: str = "", last_tags: str = "", truncated: bool = False) -> Caps:
        return Caps.of(self.maxima, self.extras(n, first_tags, last_tags, truncated))

    def layout(self, units: Units, first_tags: str = "", last_tags: str = "") -> Layout | None:
        """The layout the options ask for, or None when some unit can never fit."""
        max_posts = self.options.max_posts
        n = self._first_guess(units, first_tags, last_tags)
        for _ in range(_ROUNDS):
            caps = self.caps(n, first_tags, last_tags)
            got = fewest_posts(units, caps)
            if got is None:
                return None
            fewest = max(1, got)
            if max_posts is not None and fewest > max_posts:
                return self._truncate(units, first_tags, last_tags, max_posts)
            if fewest <= n:  # the numbers reserved for n posts are at least as wide as fewest's
                break
            n = fewest
        else:
            raise AssertionError("numbering width did not converge")  # widths only grow: unreachable
        if self.options.cut == "compact":
            ends = plan_compact(units, caps)
            return None if ends is None else Layout(tuple(ends), units.n, False)
        bound = self._greedy_bound(units, first_tags, last_tags, n)
        if max_posts is not None:
            bound = min(bound, max_posts)
        caps = self.caps(max(bound, fewest), first_tags, last_tags)
        ends = plan_readable(units, caps, bound)
        if ends is None:
            return None
        if 1 < len(ends) < bound and self.extras(len(ends)).every != self.extras(bound).every:
            # Fewer posts than reserved for: narrower numbers may leave room for better breaks.
            tighter = plan_readable(units, self.caps(len(ends), first_tags, last_tags), len(ends))
            if tighter is not None:
                ends = tighter
        return Layout(tuple(ends), units.n, False)

    def _first_guess(self, units: Units, first_tags: str, last_tags: str) -> int:
        """The post count from the total length, so the usual case counts once."""
        one = self.extras(1, first_tags, last_tags)
        room = self.maxima[0] - one.every[0]
        total = units.cum[0][units.n] - (units.gap[0][-1] if units.n else 0) + one.first[0] + one.last[0]
        if total <= room:
            return 1
        return max(2, -(-total // max(1, room - self.extras(2).every[0] + one.every[0])))

    def _greedy_bound(self, units: Units, first_tags: str, last_tags: str, n: int) -> int:
        """The greedy sentence packer's post count, with numbering as wide as its own count needs."""
        g = n
        for _ in range(_ROUNDS):
            got = greedy_posts(units, self.caps(g, first_tags, last_tags))
            if got is None:
                return n
            got = max(1, got)
            if got <= g:
                return got
            g = got
        return g

    def _truncate(self, units: Units, first_tags: str, last_tags: str, max_posts: int) -> Layout | None:
        """The longest prefix of the body ending at a sentence that fits `max_posts` posts, then "…"."""
        caps = self.caps(max_posts, first_tags, last_tags, truncated=True)

        def fits(k: int) -> bool:
            got = fewest_posts(units, caps, end=k)
            return got is not None and got <= max_posts

        def last_fit(ends: list[int]) -> int | None:
            lo, hi, best = 0, len(ends) - 1, None
            while lo <= hi:  # the count of posts grows with the prefix: binary search the last fit
                mid = (lo + hi) // 2
                if fits(ends[mid]):
                    best, lo = ends[mid], mid + 1
                else:
                    hi = mid - 1
            return best

        # A sentence end if one fits; else (one huge sentence) the best cut any break allows.
        best = last_fit([k for k in range(1, units.n) if units.brks[k - 1] >= Break.SENTENCE])
        if best is None:
            best = last_fit(list(range(1, units.n)))
        if best is None:
            return None
        if self.options.cut == "compact":
            ends = plan_compact(units, caps, end=best)
        else:
            greedy = greedy_posts(units, caps, end=best) or max_posts
            ends = plan_readable(units, caps, min(greedy, max_posts), end=best)
        return None if ends is None else Layout(tuple(ends), best, True)

