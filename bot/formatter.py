"""Slice an article into a platform-length thread, with numbering, link and hashtag budget."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import regex

from bot import hashtags as tagging
from bot.article import Article
from bot.errors import BadInput
from bot.segment import Break, Piece, graphemes, pieces

if TYPE_CHECKING:
    from bot.platforms import Platform

Numbering = Literal["suffix", "prefix", "thread", "none"]
LinkPlacement = Literal["first", "last", "none"]
TagPlacement = Literal["inline", "end", "start", "spread", "inline+end"]


@dataclass(frozen=True)
class HashtagBudget:
    """How many hashtags a thread may carry, and where they go.

    `max_tags` counts the whole thread; `max_per_post` each post (inline tags included);
    `max_chars` the characters the tags add across the thread, as the platform counts them.
    `placement`: "inline" turns words of the body into tags, "end"/"start" put them in the
    last/first post, "spread" over the posts with room, "inline+end" inline first, then the rest
    at the end.
    """

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
    tag: str
    reason: str


@dataclass(frozen=True)
class Thread:
    platform: str
    limit: int
    posts: tuple[Post, ...]
    hashtags_used: tuple[str, ...] = ()
    hashtags_dropped: tuple[DroppedTag, ...] = field(default=())


_DEFAULT_BUDGETS = {
    "x": HashtagBudget(max_tags=2, placement="inline+end"),
    "mastodon": HashtagBudget(max_tags=5, placement="end"),
    "bluesky": HashtagBudget(max_tags=2, placement="inline+end"),
}


def default_options(platform_name: str) -> FormatOptions:
    """Sensible options per platform: few tags on X and Bluesky, more at the end on Mastodon."""
    return FormatOptions(hashtags=_DEFAULT_BUDGETS.get(platform_name, HashtagBudget()))


# ---------------------------------------------------------------------------------------------
# The cost function of the dynamic program.
#
# A thread is a list of posts; the DP chooses the break after which each post ends. Candidates
# are ordered lexicographically by (number of posts, cost): the fewest posts always wins, and
# the cost only chooses among layouts with that many posts. The cost is a sum over the posts of
#
#     BREAK_PENALTY[kind of the break that ends the post]      (0 for the last post)
#   + SLACK_WEIGHT * (unused room / room of that post) ** 2
#
# The squared slack makes the fill even (two 75 % posts beat a 100 % post and a 50 % one), and
# since the last post pays it too, a one-line last post loses to a balanced split whenever one
# exists. The weights make a sentence end worth about a third of a post's evenness, and a plain
# space worth a whole empty post: a thread cuts mid-sentence only when it must.
# ---------------------------------------------------------------------------------------------
BREAK_PENALTY = {
    Break.PARAGRAPH: 0.0,
    Break.SENTENCE: 1.0,
    Break.CLAUSE: 4.0,
    Break.SPACE: 10.0,
    Break.CHAR: 10.0,
    Break.HARD: 30.0,
    Break.NONE: float("inf"),
}
SLACK_WEIGHT = 10.0
_INF_POSTS = 1 << 30

ELLIPSIS = " …"
THREAD_MARKER = " 🧵"
_TAG_BLOCK_SEP = "\n\n"
_HASHTAG = regex.compile(r"#[\p{L}\p{M}\p{N}_]+")
_LINK_SEP = "\n\n"


def _numbering_label(style: Numbering, i: int, n: int) -> tuple[str, str]:
    """(prefix, suffix) numbering of post `i` of `n` (no numbering on a one-post thread)."""
    if n <= 1 or style == "none":
        return "", ""
    if style == "prefix":
        return f"{i}/{n} ", ""
    if style == "thread":
        return "", (THREAD_MARKER if i == 1 else "")
    return "", f" {i}/{n}"


class _Measurer:
    """Memoised `platform.measure`: a token is counted once per call of `format_thread`."""

    def __init__(self, platform: Platform) -> None:
        self._measure = platform.measure
        self.dims = len(platform.maxima)
        self._cache: dict[str, tuple[int, ...]] = {"": (0,) * self.dims}

    def __call__(self, text: str) -> tuple[int, ...]:
        try:
            return self._cache[text]
        except KeyError:
            m = self._cache[text] = tuple(self._measure(text))
            return m


def _add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b))


def _sub(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x - y for x, y in zip(a, b))


@dataclass
class _Extras:
    """Fixed text added to posts, as measures: every post, the first, the last, a lone post."""

    every: tuple[int, ...]
    first: tuple[int, ...]
    last: tuple[int, ...]


class _Packer:
    """The body cut into measured units, and the DP that packs them into posts.

    Units are pieces joined across NONE breaks (so every unit boundary is a legal break), and
    hard-cut at grapheme boundaries when a single unit is longer than `hard_cap`. Measures are
    additive across the whitespace between units (the platforms guarantee it), so a post's
    length is a difference of prefix sums minus the separator dropped at its end.
    """

    def __init__(self, units: list[Piece], measure: _Measurer, hard_cap: tuple[int, ...]) -> None:
        self.measure = measure
        self.hard_cap = hard_cap
        self.dims = measure.dims
        units = self._hard_cut(units, hard_cap)
        self.units = units
        self.texts = [u.text for u in units]
        self.seps = [u.sep for u in units]
        self.brks = [u.brk for u in units]
        self.n = len(units)
        self.pen = [BREAK_PENALTY[b] for b in self.brks]
        # cum[d][k]: measure of units[:k] with their separators; gap[d][k]: separator k's measure.
        self.cum = []
        self.gap = []
        wm = [measure(t) for t in self.texts]
        gm = [measure(t) for t in self.seps]
        for d in range(self.dims):
            gaps = [g[d] for g in gm]
            cum = [0] * (self.n + 1)
            total = 0
            for k in range(self.n):
                total += wm[k][d] + gaps[k]
                cum[k + 1] = total
            self.cum.append(cum)
            self.gap.append(gaps)
        # The largest ratio secondary/primary over every unit and separator: when no post of
        # full primary length could break a secondary cap, the DP skips those checks.
        self.ratio = []
        for d in range(1, self.dims):
            worst = 0.0
            for m in wm + gm:
                if m[d]:
                    worst = max(worst, m[d] / m[0] if m[0] else float("inf"))
            self.ratio.append(worst)
        self._counts: dict[tuple[object, ...], tuple[list[int], list[int]]] = {}
        self.planned: _Layout | None = None  # the plan of the body alone, once asked for
        self.offsets = [0]  # character offset of each unit in the packed text
        total = 0
        for t, sep in zip(self.texts, self.seps):
            total += len(t) + len(sep)
            self.offsets.append(total)

    @classmethod
    def of_text(cls, text: str, lang: str | None, measure: _Measurer, hard_cap: tuple[int, ...]) -> _Packer:
        return cls(cls._merge(pieces(text, lang), measure), measure, hard_cap)

    def replaced(self, spans: list[tuple[int, int, str]]) -> _Packer:
        """A packer for the same text with `text[start:end]` replaced, for each span.

        Units a span touches become one unit (an inline hashtag is never broken), so the rest
        of the body is neither re-segmented nor re-measured.
        """
        units = list(self.units)
        for start, end, new in sorted(spans, reverse=True):
            a = bisect_right(self.offsets, start) - 1
            b = bisect_right(self.offsets, end - 1) - 1
            joined = "".join(units[k].text + units[k].sep for k in range(a, b)) + units[b].text
            lo = start - self.offsets[a]
            hi = end - self.offsets[a]
            units[a : b + 1] = [Piece(joined[:lo] + new + joined[hi:], units[b].sep, units[b].brk)]
        return _Packer(units, self.measure, self.hard_cap)

    @staticmethod
    def _merge(raw: list[Piece], measure: _Measurer) -> list[Piece]:
        """Join pieces across NONE breaks; undo CJK splits where counting is not additive."""
        out: list[Piece] = []
        for p in raw:
            if out and out[-1].brk == Break.NONE:
                prev = out.pop()
                p = Piece(prev.text + prev.sep + p.text, p.sep, p.brk)
            out.append(p)
        if not any(p.sep == "" for p in out[:-1]):
            return out
        merged: list[Piece] = []
        run: list[Piece] = []  # pieces glued without whitespace (CJK), to check additivity
        for k, p in enumerate(out):
            run.append(p)
            if p.sep == "" and k < len(out) - 1:
                continue
            if len(run) > 1:
                whole = "".join(q.text for q in run)
                parts = [measure(q.text) for q in run]
                if tuple(map(sum, zip(*parts))) != measure(whole):
                    run = [Piece(whole, p.sep, p.brk)]
            merged.extend(run)
            run = []
        return merged

    def _hard_cut(self, units: list[Piece], cap: tuple[int, ...]) -> list[Piece]:
        """Cut units longer than a post at grapheme boundaries: the only break inside a token."""
        measure = self.measure
        dims = range(len(cap))
        if not any(m[d] > cap[d] for m in map(measure, (u.text for u in units)) for d in dims):
            return units
        out: list[Piece] = []
        for u in units:
            if all(m <= c for m, c in zip(measure(u.text), cap)):
                out.append(u)
                continue
            chunk = ""
            chunks: list[str] = []
            for g in graphemes(u.text):
                if chunk and any(m > c for m, c in zip(self.measure(chunk + g), cap)):
                    chunks.append(chunk)
                    chunk = ""
                chunk += g
            chunks.append(chunk)
            out.extend(Piece(c, "", Break.HARD) for c in chunks[:-1])
            out.append(Piece(chunks[-1], u.sep, u.brk))
        return out

    def text(self, i: int, j: int) -> str:
        parts = []
        for k in range(i, j - 1):
            parts.append(self.texts[k])
            parts.append(self.seps[k])
        parts.append(self.texts[j - 1])
        return "".join(parts)

    def _fits(self, i: int, j: int, cap: tuple[int, ...]) -> bool:
        for d in range(self.dims):
            if self.cum[d][j] - self.gap[d][j - 1] - self.cum[d][i] > cap[d]:
                return False
        return True

    def _secondary_binds(self, caps: tuple[tuple[int, ...], ...]) -> bool:
        """Can a secondary cap (Bluesky's bytes) refuse a post that the primary one accepts?"""
        return any(r * capv[0] > capv[d + 1] for capv in caps for d, r in enumerate(self.ratio))

    def _caps(self, maxima: tuple[int, ...], extras: _Extras) -> tuple[tuple[int, ...], ...]:
        mid = _sub(maxima, extras.every)
        first = _sub(mid, extras.first)
        last = _sub(mid, extras.last)
        return mid, first, last, _sub(first, extras.last)

    def counts(self, maxima: tuple[int, ...], extras: _Extras, end: int) -> tuple[list[int], list[int]]:
        """(P, Q): P[j] fewest posts for units[:j], Q[j] fewest for units[j:end] (big if impossible).

        Two pointers, O(n): the fewest posts for a prefix never decreases as the prefix grows, so
        the best predecessor of j is the farthest-back unit a post can start at (and likewise
        the best successor of i for Q).
        """
        key = (maxima, extras.every, extras.first, extras.last, end)
        if key in self._counts:
            return self._counts[key]
        self._counts[key] = result = self._count(maxima, extras, end)
        return result

    def _count(self, maxima: tuple[int, ...], extras: _Extras, end: int) -> tuple[list[int], list[int]]:
        caps = self._caps(maxima, extras)
        mid, first, last, single = caps
        fits = self._fits
        cum0, gap0 = self.cum[0], self.gap[0]
        multi = self.dims > 1 and self._secondary_binds(caps)
        big = _INF_POSTS
        P = [big] * (end + 1)
        P[0] = 0
        lo = 1
        lone = True  # units[:j] still fits in the first post alone
        for j in range(1, end + 1):
            right = cum0[j] - gap0[j - 1]
            if lone:
                capv = single if j == end else first
                if right <= capv[0] and (not multi or fits(0, j, capv)):
                    P[j] = 1
                    continue
                lone = j == end  # only the last post's smaller room could have refused it
            capv = last if j == end else mid
            c0 = capv[0]
            while lo < j and (right - cum0[lo] > c0 or (multi and not fits(lo, j, capv))):
                lo += 1
            if lo < j and P[lo] < big:
                P[j] = P[lo] + 1
        Q = [big] * (end + 1)
        Q[end] = 0
        hi = end - 1
        tail = True  # units[i:end] still fits in the last post alone
        for i in range(end - 1, -1, -1):
            if tail:
                capv = single if i == 0 else last
                if cum0[end] - gap0[end - 1] - cum0[i] <= capv[0] and (not multi or fits(i, end, capv)):
                    Q[i] = 1
                    continue
                tail = i == 0
            capv = first if i == 0 else mid
            c0 = capv[0]
            hi = min(hi, end - 1)
            while hi > i and (cum0[hi] - gap0[hi - 1] - cum0[i] > c0 or (multi and not fits(i, hi, capv))):
                hi -= 1
            if hi > i and Q[hi] < big:
                Q[i] = Q[hi] + 1
        return P, Q

    def fewest(self, maxima: tuple[int, ...], extras: _Extras, end: int | None = None) -> int | None:
        """The fewest posts units[:end] need, or None if some unit can never fit."""
        end = self.n if end is None else end
        if end == 0:
            return 0
        P, _ = self.counts(maxima, extras, end)
        return P[end] if P[end] < _INF_POSTS else None

    def plan(self, maxima: tuple[int, ...], extras: _Extras, end: int | None = None) -> list[int] | None:
        """Post ends (unit indices, the last is `end`) for units[:end], or None if impossible.

        Exactly the fewest posts; among those, the least cost as documented at BREAK_PENALTY.
        Layer k of the DP holds the best way to end post k at each unit; P and Q bound the units
        post k may end at (those from which the rest still fits the remaining posts).
        """
        end = self.n if end is None else end
        if end == 0:
            return []
        P, Q = self.counts(maxima, extras, end)
        n_posts = P[end]
        if n_posts >= _INF_POSTS:
            return None
        caps = self._caps(maxima, extras)
        mid, first, last, single = caps
        cum0, gap0, pen = self.cum[0], self.gap[0], self.pen
        multi = self.dims > 1 and self._secondary_binds(caps)
        fits = self._fits
        inf = float("inf")
        # Post k may end at j iff P[j] <= k <= n_posts - Q[j]: P grows and Q shrinks with j, so
        # those j form one range per layer.
        prev = [inf] * (end + 1)
        prev[0] = 0.0
        prev_lo, prev_hi = 0, 0
        backs: list[list[int]] = []
        for k in range(1, n_posts + 1):
            remaining = n_posts - k
            if remaining == 0:
                lo = hi = end
            else:
                lo = next(j for j in range(1, end) if Q[j] <= remaining)
                hi = lo
                while hi + 1 < end and P[hi + 1] <= k:
                    hi += 1
            cost = [inf] * (end + 1)
            back = [-1] * (end + 1)
            for j in range(lo, hi + 1):
                if P[j] > k or Q[j] > remaining:
                    continue
                is_end = j == end
                bp = 0.0 if is_end else pen[j - 1]
                right = cum0[j] - gap0[j - 1]
                capv = last if is_end else mid
                c0 = capv[0]
                best_c, best_i = inf, -1
                for i in range(min(j - 1, prev_hi), prev_lo - 1, -1):
                    if i == 0:
                        capv = single if is_end else first
                        c0 = capv[0]
                    length = right - cum0[i]
                    if length > c0:
                        break  # longer still for every smaller i (i == 0 comes last)
                    pc = prev[i]
                    if pc == inf:
                        continue
                    slack = (c0 - length) / c0
                    c = pc + bp + SLACK_WEIGHT * slack * slack
                    if c < best_c and (not multi or fits(i, j, capv)):
                        best_c, best_i = c, i
                cost[j], back[j] = best_c, best_i
            prev, prev_lo, prev_hi = cost, lo, hi
            backs.append(back)
        if prev[end] == inf:
            return None
        out = [end]
        for k in range(n_posts - 1, 0, -1):
            out.append(backs[k][out[-1]])
        return out[::-1]


@dataclass
class _Layout:
    """A chosen layout: the post ends, the numbering count, and where the body stops."""

    ends: list[int]
    end: int
    truncated: bool
    planned: bool = True  # False: only the count is known (`ends` are placeholders)


class _Formatter:
    """One call of `format_thread`: the platform, the options and the fixed parts of posts."""

    def __init__(self, article: Article, platform: Platform, options: FormatOptions) -> None:
        self.article = article
        self.platform = platform
        self.options = options
        self.measure = _Measurer(platform)
        self.maxima = tuple(platform.maxima)
        self.zero = (0,) * self.measure.dims
        self.cw = article.cw if (getattr(platform, "supports_cw", False) and article.cw) else None
        # The content warning counts toward every post's limit where the platform says so.
        self.cw_cost = (platform.cw_length(self.cw),) + self.zero[1:] if self.cw else self.zero
        self.url = article.url if options.link != "none" and article.url else None
        self.link_block = _LINK_SEP + self.url if self.url else ""
        # The smallest room any post can have without optional tags: a unit longer than this
        # is hard-cut (generous numbering width, so it never depends on the final count).
        worst = _add(self.cw_cost, self.measure(" 999/999"))
        worst = _add(worst, self.measure(self.link_block))
        worst = _add(worst, self.measure(ELLIPSIS))
        worst = _add(worst, self.measure(THREAD_MARKER))
        self.hard_cap = tuple(max(1, m - w) for m, w in zip(self.maxima, worst))
        if any(m - c - lk < 1 for m, c, lk in zip(self.maxima, self.cw_cost, self.measure(self.link_block))):
            raise BadInput(f"{article.path or 'article'}: the link and content warning leave no room on {platform.name}")

    def packer(self, text: str) -> _Packer:
        return _Packer.of_text(text, self.article.lang, self.measure, self.hard_cap)

    def extras(self, n: int, first_tags: str = "", last_tags: str = "", truncated: bool = False) -> _Extras:
        """Measures of the fixed parts when the thread has `n` posts."""
        style = self.options.numbering
        every = self.cw_cost
        first = self.measure(first_tags)
        last = _add(self.measure(last_tags), self.measure(ELLIPSIS) if truncated else self.zero)
        if n > 1 and style in ("suffix", "prefix"):
            widest = self.zero
            for i in range(1, n + 1):
                pre, suf = _numbering_label(style, i, n)
                widest = tuple(map(max, widest, self.measure(pre or suf)))
            every = _add(every, widest)
        elif n > 1 and style == "thread":
            first = _add(first, self.measure(THREAD_MARKER))
        if self.url:
            link = self.measure(self.link_block)
            if self.options.link == "first":
                first = _add(first, link)
            else:
                last = _add(last, link)
        return _Extras(every, first, last)

    def layout(self, pk: _Packer, first_tags: str = "", last_tags: str = "", plan: bool = True) -> _Layout | None:
        """Fewest posts, then best cost; iterates on the count because numbering width depends on it.

        With `plan=False` only the count is computed (the layout's `ends` are then empty
        placeholders, one per post): the cheap question "would this add a post?".
        """
        max_posts = self.options.max_posts
        # First guess of the count from the total length, to count once in the usual case.
        one = self.extras(1, first_tags, last_tags)
        room = self.maxima[0] - one.every[0]
        total = pk.cum[0][pk.n] - (pk.gap[0][-1] if pk.n else 0) + one.first[0] + one.last[0]
        n = 1 if total <= room else max(2, -(-total // max(1, room - self.extras(2).every[0] + one.every[0])))
        for _ in range(8):
            extras = self.extras(n, first_tags, last_tags)
            got = pk.fewest(self.maxima, extras)
            if got is None:
                return None
            got = max(1, got)
            if max_posts is not None and got > max_posts:
                return self._truncate(pk, first_tags, last_tags, max_posts, plan)
            if got <= n:  # the numbers reserved for n posts are at least as wide as got's
                if not plan:
                    return _Layout([0] * got, pk.n, False, planned=False)
                ends = pk.plan(self.maxima, extras)
                return None if ends is None else _Layout(ends, pk.n, False)
            n = got
        raise AssertionError("numbering width did not converge")  # widths only grow: unreachable

    def _truncate(self, pk: _Packer, first_tags: str, last_tags: str, max_posts: int, plan: bool) -> _Layout | None:
        """The longest prefix of the body ending at a sentence that fits `max_posts` posts, then "…"."""
        extras = self.extras(max_posts, first_tags, last_tags, truncated=True)

        def fits(k: int) -> bool:
            got = pk.fewest(self.maxima, extras, end=k)
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
        best = last_fit([k for k in range(1, pk.n) if pk.brks[k - 1] >= Break.SENTENCE])
        if best is None:
            best = last_fit(list(range(1, pk.n)))
        if best is None:
            return None
        if not plan:
            return _Layout([0] * (pk.fewest(self.maxima, extras, end=best) or 1), best, True, planned=False)
        ends = pk.plan(self.maxima, extras, end=best)
        return None if ends is None else _Layout(ends, best, True)


def _resolve_platform(platform: Platform | str) -> Platform:
    if isinstance(platform, str):
        from bot.platforms import get_platform

        return get_platform(platform)
    return platform


def format_thread(article: Article, platform: Platform | str, options: FormatOptions | None = None) -> Thread:
    """Cut `article` into a thread for `platform` (a Platform or its name).

    Every post fits the platform's limit as it counts it, numbering, link, hashtags and (on
    Mastodon) the content warning included. The body's words come out in order; posts break
    at the best places (paragraph, sentence, clause, space) for the fewest, most even posts.
    Hashtags never add a post: what does not fit the budget or the room is in
    `hashtags_dropped` with the reason. Deterministic: the same input gives the same thread.
    """
    plat = _resolve_platform(platform)
    opts = options or default_options(plat.name)
    budget = opts.hashtags or default_options(plat.name).hashtags or HashtagBudget()
    fmt = _Formatter(article, plat, opts)
    return _place_and_render(fmt, budget)


def _place_and_render(fmt: _Formatter, budget: HashtagBudget) -> Thread:
    """Lay the body out, then spend the hashtag budget without ever adding a post."""
    plat = fmt.platform
    body = fmt.article.body.strip()
    cands, dups = tagging.candidates(fmt.article)
    # Each candidate gets at most one verdict; duplicates are reported under their own spelling.
    dropped: dict[str, str] = {}

    def drop(tag: str, reason: str) -> None:
        dropped.setdefault(tag, reason)

    valid, invalid = [], []
    for c in cands:
        if plat.hashtag_valid(c.tag):
            valid.append(c)
        else:
            invalid.append(c)
            drop(c.tag, f"invalid on {plat.name}")
    ranked = tagging.rank(valid, body)

    pk = fmt.packer(body)
    lay = fmt.layout(pk, plan=False)
    if lay is None:
        raise AssertionError("formatter bug: no layout for the body alone")
    pk, lay, tag_blocks, used = _select(fmt, budget, body, ranked, pk, lay, drop)
    lay = _planner(fmt, pk)(lay)

    used_set = {c.tag for c in used}
    posts = _render(fmt, pk, lay, tag_blocks)
    return Thread(
        platform=plat.name,
        limit=plat.limit,
        posts=tuple(posts),
        hashtags_used=tuple(c.tag for c in ranked if c.tag in used_set),
        hashtags_dropped=tuple(
            [DroppedTag(t, r) for t, r in dups if t not in used_set]
            + [DroppedTag(c.tag, dropped[c.tag]) for c in ranked + invalid if c.tag in dropped]
        ),
    )


def _planner(fmt: _Formatter, pk: _Packer):  # type: ignore[no-untyped-def]
    """A function that turns a counted-only layout of `pk` into a planned one."""

    def planned(lay: _Layout) -> _Layout:
        if lay.planned:
            return lay
        if pk.planned is None:  # the trials of several tags ask for the same plan
            pk.planned = fmt.layout(pk)
        if pk.planned is None:
            raise AssertionError("formatter bug: a layout that was counted could not be planned")
        return pk.planned

    return planned


def _select(fmt, budget, body, ranked, base_pk, base_lay, drop):  # type: ignore[no-untyped-def]
    """Spend the budget on the ranked candidates, best first, without ever adding a post.

    Each candidate in turn is tried inline (where the placement allows and its words are in the
    body), then outside the body (end, start or spread); it is kept only if every tag kept
    so far still fits with it. A candidate that fits nowhere is dropped with the reason and
    does not count against `max_tags`: the next candidate gets its place.

    Returns (packer, layout, tag block per post index, candidates used).
    """
    placement = budget.placement
    can_inline = placement in ("inline", "inline+end")
    can_outside = placement != "inline"
    where = "spread" if placement == "spread" else ("start" if placement == "start" else "end")
    limit_pp = budget.max_per_post
    n0 = len(base_lay.ends)
    words = tagging.folded_words(body) if can_inline else []

    def outside_result(pk, lay, inline, outside, chars, plan=False):  # type: ignore[no-untyped-def]
        """(layout, blocks, chars, None) when every outside tag fits, else (..., reason)."""
        if not outside:
            return lay, {}, chars, None
        planned = _planner(fmt, pk)
        per_post: dict[int, list[str]] = {}
        if limit_pp is not None and inline:
            lay = planned(lay)
            per_post = _tags_per_post(pk, lay, ["#" + c.tag for c, _ in inline])
        reasons: dict[str, str] = {}
        lay2, blocks, placed, chars2 = _place_outside(
            fmt, budget, pk, lay, n0, outside, per_post, chars, where, reasons.setdefault, planned, plan
        )
        if len(placed) == len(outside):
            return lay2, blocks, chars2, None
        return lay2, blocks, chars2, reasons.get(outside[-1].tag, "no room")

    # The state kept so far.
    inline: list[tuple[tagging.Candidate, tuple[int, int]]] = []
    outside: list[tagging.Candidate] = []
    pk, lay = base_pk, base_lay
    inline_chars = 0
    out_lay, out_blocks, out_chars = base_lay, {}, 0
    # Outside failures in the current state, as (measure of " #tag", reason): a tag at least as
    # long fails too (less room, more chars), so it is not tried again.
    out_fails: list[tuple[tuple[int, ...], str]] = []

    for c in ranked:
        if len(inline) + len(outside) >= budget.max_tags:
            drop(c.tag, "over max_tags")
            continue
        reason: str | None = None
        span = tagging.find_inline(body, c, fmt.platform, [s for _, s in inline], words) if can_inline else None
        if span is not None:
            cost = max(0, fmt.measure("#" + c.tag)[0] - fmt.measure(body[span[0] : span[1]])[0])
            if budget.max_chars is not None and out_chars + cost > budget.max_chars:
                reason = "over max_chars"
            else:
                trial = inline + [(c, span)]
                pk2 = base_pk.replaced([(a, b, "#" + t.tag) for t, (a, b) in trial])
                # With max_posts, a tag may move the cut back by a sentence; it never adds a post.
                lay2 = fmt.layout(pk2, plan=limit_pp is not None)
                if lay2 is None or len(lay2.ends) > n0:
                    reason = "no room"
                elif limit_pp is not None and any(
                    len(v) > limit_pp for v in _tags_per_post(pk2, lay2, ["#" + t.tag for t, _ in trial]).values()
                ):
                    reason = "over max_per_post"
                else:
                    got = outside_result(pk2, lay2, trial, outside, inline_chars + cost)
                    if got[3] is None:
                        inline, pk, lay, inline_chars = trial, pk2, lay2, inline_chars + cost
                        out_lay, out_blocks, out_chars = got[0], got[1], got[2]
                        out_fails = []  # the body moved: the room outside changed
                        continue
                    reason = "no room"  # it would push a tag already kept out of its post
        if can_outside:
            size = fmt.measure(" #" + c.tag)
            known = next((r for m, r in out_fails if all(a >= b for a, b in zip(size, m))), None)
            if known is not None:
                over = budget.max_chars is not None and out_chars + size[0] > budget.max_chars
                reason = "over max_chars" if over else known
            else:
                got = outside_result(pk, lay, inline, outside + [c], inline_chars)
                if got[3] is None:
                    outside.append(c)
                    out_lay, out_blocks, out_chars = got[0], got[1], got[2]
                    continue
                reason = got[3]
                out_fails.append((size, reason))
        drop(c.tag, reason or "not in text")

    if outside and not out_lay.planned:
        # The trials only counted the posts; plan the layout that reserves the kept block.
        out_lay, out_blocks, _, fail = outside_result(pk, lay, inline, outside, inline_chars, plan=True)
        if fail is not None:
            raise AssertionError("formatter bug: the kept hashtags no longer fit")
    return pk, out_lay, out_blocks, [c for c, _ in inline] + outside


def _tags_per_post(pk: _Packer, lay: _Layout, tags: list[str]) -> dict[int, list[str]]:
    """Which of `tags` (with '#') each post's body holds, in order of appearance."""
    out: dict[int, list[str]] = {}
    if not tags:
        return out
    starts = [0]
    for e in lay.ends[:-1]:
        starts.append(e)
    offsets = [0]
    for k in range(pk.n):
        offsets.append(offsets[-1] + len(pk.texts[k]) + len(pk.seps[k]))
    text = "".join(t + s for t, s in zip(pk.texts, pk.seps))
    wanted = set(tags)
    for m in _HASHTAG.finditer(text):
        if m.group() in wanted:
            unit = bisect_right(offsets, m.start()) - 1
            post = bisect_right(starts, unit)
            if unit < lay.end:
                out.setdefault(post, []).append(m.group())
    return out


def _place_outside(fmt, budget, pk, lay, n0, outside, per_post, chars, where, drop, planned, plan=True):  # type: ignore[no-untyped-def]
    """Put tags in the last or first post (reserving room first), or spread them over the posts.

    Returns (layout, tag block per post index, tags placed, chars added). With `plan=False` a
    layout that reserves the room may come back counted only (the cheap trial of a tag).
    """
    limit_pp = budget.max_per_post
    n = len(lay.ends)
    target = 1 if where == "start" else n
    if where != "spread":
        # First choice: lay the body out again with the whole block reserved, if that adds no post.
        chosen, block, extra = [], "", 0
        for c in outside:
            piece = (_TAG_BLOCK_SEP if not block else " ") + "#" + c.tag
            cost = fmt.measure(piece)[0]
            if budget.max_chars is not None and chars + extra + cost > budget.max_chars:
                drop(c.tag, "over max_chars")
                continue
            if limit_pp is not None and len(per_post.get(target, [])) + len(chosen) >= limit_pp:
                drop(c.tag, "over max_per_post")
                continue
            chosen.append(c)
            block += piece
            extra += cost
        if not chosen:
            return lay, {}, [], chars
        kw = {"first_tags": block} if where == "start" else {"last_tags": block}
        reserved = fmt.layout(pk, plan=False, **kw)
        if reserved is not None and len(reserved.ends) == n0 and reserved.end == lay.end:
            if not plan:
                return reserved, {1 if where == "start" else n0: block}, chosen, chars + extra
            reserved = fmt.layout(pk, **kw)
            if reserved is not None:
                return reserved, {1 if where == "start" else n0: block}, chosen, chars + extra
        outside = chosen
    # Otherwise fit tags into the room the layout left, measuring the actual posts.
    lay = planned(lay)
    texts = _post_texts(fmt, pk, lay, {})
    blocks: dict[int, str] = {}
    placed: list[tagging.Candidate] = []
    counts = {i: len(v) for i, v in per_post.items()}
    cursor = 0
    for c in outside:
        order = [target] if where != "spread" else [((cursor + k) % n) + 1 for k in range(n)]
        for idx in order:
            if limit_pp is not None and counts.get(idx, 0) >= limit_pp:
                continue
            block = blocks.get(idx, "")
            piece = (_TAG_BLOCK_SEP if not block else " ") + "#" + c.tag
            cost = fmt.measure(piece)[0]
            if budget.max_chars is not None and chars + cost > budget.max_chars:
                continue
            head, link = texts[idx - 1]
            if _fits(fmt, head + block + piece + link):
                blocks[idx] = block + piece
                counts[idx] = counts.get(idx, 0) + 1
                chars += cost
                placed.append(c)
                cursor = idx
                break
        else:
            over_chars = budget.max_chars is not None and chars + fmt.measure(" #" + c.tag)[0] > budget.max_chars
            drop(c.tag, "over max_chars" if over_chars else "no room")
    return lay, blocks, placed, chars


def _fits(fmt: _Formatter, text: str) -> bool:
    measured = _add(fmt.measure(text), fmt.cw_cost)
    return all(m <= limit for m, limit in zip(measured, fmt.maxima))


def _post_texts(fmt: _Formatter, pk: _Packer, lay: _Layout, tag_blocks: dict[int, str]) -> list[tuple[str, str]]:
    """Each post as (everything before the link, the link block): numbering, body, "…", tags."""
    n = len(lay.ends)
    out: list[tuple[str, str]] = []
    start = 0
    for idx, stop in enumerate(lay.ends, 1):
        pre, suf = _numbering_label(fmt.options.numbering, idx, n)
        body = pk.text(start, stop)
        if lay.truncated and idx == n:
            body += ELLIPSIS
        link = ""
        if fmt.url and ((fmt.options.link == "first" and idx == 1) or (fmt.options.link == "last" and idx == n)):
            link = fmt.link_block
        out.append((pre + body + suf + tag_blocks.get(idx, ""), link))
        start = stop
    return out


def _render(fmt: _Formatter, pk: _Packer, lay: _Layout, tag_blocks: dict[int, str]) -> list[Post]:
    """The final posts, each checked against the limit one last time."""
    texts = _post_texts(fmt, pk, lay, tag_blocks)
    posts = [_checked(fmt, idx, head + link) for idx, (head, link) in enumerate(texts, 1)]
    if not posts and (fmt.url or tag_blocks):
        posts.append(_checked(fmt, 1, (tag_blocks.get(1, "") + fmt.link_block).lstrip()))
    return posts


def _checked(fmt: _Formatter, idx: int, text: str) -> Post:
    if not _fits(fmt, text):
        # The DP only packs what fits; reaching this is a bug in counting additivity, not input.
        raise AssertionError(f"formatter bug: post {idx} over {fmt.maxima} on {fmt.platform.name}: {text!r}")
    length = fmt.platform.length(text) + (fmt.platform.cw_length(fmt.cw) if fmt.cw else 0)
    return Post(index=idx, text=text, length=length, cw=fmt.cw)
