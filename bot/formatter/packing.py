"""The packing objectives: which unit each post ends at, for the compact and the readable cut.

Every packer gets the room of each kind of post (`Caps`: middle, first, last, a lone post) and
returns post ends (unit indices; the last is `end`). Nothing here renders text: lengths are
prefix-sum differences of `Units`.

- `fewest_posts` / `plan_compact`: exactly the fewest posts, then the least `COMPACT_COST` plus
  an evenness term (the `cut: compact` setting, and the floor of the readable cut).
- `greedy_posts`: the greedy sentence packer (whole sentences while they fit; a sentence longer
  than a post cut at its last fitting break). The readable cut never uses more posts.
- `plan_readable`: the least total of break costs (`Units.readable_costs`, where sentence ends
  are rewards), a cost per post, evenness and a runt-post penalty, within the greedy packer's
  post count.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import NamedTuple

from bot.formatter.breaks import COMPACT_COST, FUNCTION_WORD_COST, READABLE_COST, Measure, Units, sub
from bot.segment import Break

_INF_POSTS = 1 << 30
INF = float("inf")

# The compact cut's evenness: the squared unused share of each post, times this. Two 75 % posts
# beat a 100 % post and a 50 % one, and a one-line last post loses to a balanced split.
COMPACT_SLACK_WEIGHT = 10.0
# The readable cut: what one more post costs, how much evenness matters, and what a runt costs
# (a post under RUNT_SHARE of its room, unless it is the whole thread).
POST_COST = 1.0
READABLE_SLACK_WEIGHT = 3.0
RUNT_SHARE = 0.25
RUNT_COST = 20.0
# A sentence longer than this share of a post may end a post at any of its breaks.
LONG_SENTENCE_SHARE = 1.0


class Extras(NamedTuple):
    """Fixed text added to posts, as measures: every post, the first, the last."""

    every: Measure
    first: Measure
    last: Measure


class Caps(NamedTuple):
    """The room for body text in a middle, first, last and lone post (a tuple: cheap to build,
    and a key of the packers' memos)."""

    mid: Measure
    first: Measure
    last: Measure
    single: Measure

    @classmethod
    def of(cls, maxima: Measure, extras: Extras) -> Caps:
        mid = sub(maxima, extras.every)
        first = sub(mid, extras.first)
        return cls(mid, first, sub(mid, extras.last), sub(first, extras.last))

    def for_post(self, i: int, j: int, end: int) -> Measure:
        """The room of a post holding units[i:j] of a body of `end` units."""
        if i == 0:
            return self.single if j == end else self.first
        return self.last if j == end else self.mid

    def all(self) -> tuple[Measure, ...]:
        return self.mid, self.first, self.last, self.single


def counts(units: Units, caps: Caps, end: int) -> tuple[list[int], list[int]]:
    """(P, Q): P[j] fewest posts for units[:j], Q[j] fewest for units[j:end] (big if impossible).

    Two pointers, O(n): the fewest posts for a prefix never decreases as the prefix grows, so
    the best predecessor of j is the farthest-back unit a post can start at (and likewise
    the best successor of i for Q).
    """
    key = (caps, end)
    if key in units.count_memo:
        return units.count_memo[key]
    mid, first, last, single = caps.all()
    fits = units.fits
    cum0, gap0 = units.cum[0], units.gap[0]
    multi = units.dims > 1 and units.secondary_binds(caps.all())
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
    units.count_memo[key] = (P, Q)
    return P, Q


def fewest_posts(units: Units, caps: Caps, end: int | None = None) -> int | None:
    """The fewest posts units[:end] need, or None if some unit can never fit."""
    end = units.n if end is None else end
    if end == 0:
        return 0
    P, _ = counts(units, caps, end)
    return P[end] if P[end] < _INF_POSTS else None


def plan_compact(units: Units, caps: Caps, end: int | None = None) -> list[int] | None:
    """Post ends for units[:end] with exactly the fewest posts, then the least cost; None if impossible.

    The cost of a post is COMPACT_COST of the break that ends it (none for the last) plus
    COMPACT_SLACK_WEIGHT * (unused share of its room) ** 2. Layer k of the DP holds the best
    way to end post k at each unit; P and Q bound the units post k may end at.
    """
    end = units.n if end is None else end
    if end == 0:
        return []
    key = ("compact", caps, end)
    if key in units.plan_memo:
        return units.plan_memo[key]
    P, Q = counts(units, caps, end)
    n_posts = P[end]
    if n_posts >= _INF_POSTS:
        units.plan_memo[key] = None
        return None
    mid, first, last, single = caps.all()
    cum0, gap0 = units.cum[0], units.gap[0]
    pen = [COMPACT_COST[b] for b in units.brks]
    multi = units.dims > 1 and units.secondary_binds(caps.all())
    fits = units.fits
    # Post k may end at j iff P[j] <= k <= n_posts - Q[j]: P grows and Q shrinks with j, so
    # those j form one range per layer.
    prev = [INF] * (end + 1)
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
        cost = [INF] * (end + 1)
        back = [-1] * (end + 1)
        for j in range(lo, hi + 1):
            if P[j] > k or Q[j] > remaining:
                continue
            is_end = j == end
            bp = 0.0 if is_end else pen[j - 1]
            right = cum0[j] - gap0[j - 1]
            capv = last if is_end else mid
            c0 = capv[0]
            best_c, best_i = INF, -1
            for i in range(min(j - 1, prev_hi), prev_lo - 1, -1):
                if i == 0:
                    capv = single if is_end else first
                    c0 = capv[0]
                length = right - cum0[i]
                if length > c0:
                    break  # longer still for every smaller i (i == 0 comes last)
                pc = prev[i]
                if pc == INF:
                    continue
                slack = (c0 - length) / c0
                c = pc + bp + COMPACT_SLACK_WEIGHT * slack * slack
                if c < best_c and (not multi or fits(i, j, capv)):
                    best_c, best_i = c, i
            cost[j], back[j] = best_c, best_i
        prev, prev_lo, prev_hi = cost, lo, hi
        backs.append(back)
    if prev[end] == INF:
        units.plan_memo[key] = None
        return None
    out = [end]
    for k in range(n_posts - 1, 0, -1):
        out.append(backs[k][out[-1]])
    units.plan_memo[key] = out[::-1]
    return out[::-1]


def greedy_posts(units: Units, caps: Caps, end: int | None = None) -> int | None:
    """Posts the greedy sentence packer needs for units[:end], or None if a unit never fits.

    Whole sentences go into the current post while they fit (as the post's own room counts
    them: first, middle or last); a sentence that fits no post alone is cut at its last
    fitting break, word after word, and what is left of it starts the next post.
    """
    end = units.n if end is None else end
    if end == 0:
        return 0
    fits = units.fits

    def fit(i: int, j: int) -> bool:
        return fits(i, j, caps.for_post(i, j, end))

    posts = 0
    start = 0  # first unit of the open post
    open_post = False
    a = 0  # first unit of the sentence
    while a < end:
        b = a + 1
        while b < end and units.brks[b - 1] < Break.SENTENCE:
            b += 1
        if open_post and fit(start, b):
            a = b
            continue
        if fit(a, b):
            posts += open_post
            start, open_post, a = a, True, b
            continue
        # A sentence longer than a post: close the open one, then fill posts break by break.
        posts += open_post
        i = a
        while True:
            j = i + 1
            if not fit(i, j):
                return None
            while j < b and fit(i, j + 1):
                j += 1
            if j == b:
                start, open_post = i, True
                break
            posts += 1
            i = j
        a = b
    return posts + open_post


def plan_readable(units: Units, caps: Caps, bound: int, end: int | None = None) -> list[int] | None:
    """Post ends for units[:end] of least readable cost with at most `bound` posts; None if impossible.

    Cost of a layout: the sum over posts of POST_COST, the readable cost of the break that
    ends it (none for the last; sentence and paragraph ends are rewards), READABLE_SLACK_WEIGHT *
    (unused share of its room) ** 2, and RUNT_COST for a runt. Exact over the places it
    considers: a DP layered by post count (so the bound is a constraint, not a price). It first
    considers only clause ends and better, plus every place inside a stretch that no post can
    bridge; if no layout within `bound` uses only those, every break; and the compact plan (the
    fewest posts, never more than the greedy packer's) is the last resort.
    """
    end = units.n if end is None else end
    if end == 0:
        return []
    key = ("readable", caps, bound, end)
    if key in units.plan_memo:
        return units.plan_memo[key]
    result: list[int] | None = None
    if fewest_posts(units, caps, end) is not None:
        result = _layered(units, caps, bound, end, _good_places(units, caps, end))
        if result is None:
            result = _layered(units, caps, bound, end, list(range(end + 1)))
        if result is None:
            result = plan_compact(units, caps, end)
            if result is not None and len(result) > bound:
                result = None
    units.plan_memo[key] = result
    return result


def _good_places(units: Units, caps: Caps, end: int) -> list[int]:
    """The places a readable post may end at: clause ends and better, and every break inside a
    sentence longer than LONG_SENTENCE_SHARE of a post (where a bare space may buy a sentence end
    elsewhere, or be the only way through)."""
    brks = units.brks
    pen = units.readable_costs()
    worst = READABLE_COST[Break.SPACE] + FUNCTION_WORD_COST  # a bare space after a function word
    room = min(caps.mid[0], caps.first[0], caps.last[0])
    places = [0]
    start = 0  # the first unit of the current sentence
    for j in range(1, end + 1):
        if j < end and brks[j - 1] < Break.SENTENCE:
            continue
        if units.length(start, j) > room * LONG_SENTENCE_SHARE:
            # Not a bare space after a function word: a neighbouring space costs half as much
            # (and if no layout is left, every break is tried).
            places.extend(k for k in range(start + 1, j) if pen[k - 1] < worst)
        else:
            places.extend(k for k in range(start + 1, j) if brks[k - 1] >= Break.CLAUSE)
        places.append(j)
        start = j
    return places


def _layered(units: Units, caps: Caps, bound: int, end: int, places: list[int]) -> list[int] | None:
    """The least-cost layout of at most `bound` posts whose ends are all in `places`."""
    P, Q = counts(units, caps, end)
    if P[end] > bound:
        return None
    m = len(places)
    edges = _edges(units, caps, end, places)
    prev = [INF] * m
    prev[0] = 0.0
    backs: list[list[int]] = []
    best_total, best_k = INF, 0
    lo_start = 1
    for k in range(1, bound + 1):
        remaining = bound - k
        cost = [INF] * m
        back = [-1] * m
        # Post k may end at place j only if the prefix fits k posts and the rest fits the others.
        while lo_start < m and Q[places[lo_start]] > remaining:
            lo_start += 1
        for jj in range(lo_start, m):
            if P[places[jj]] > k:
                break  # P grows with j
            starts, posts = edges[jj]
            if not starts:
                continue
            totals = [prev[ii] + ec for ii, ec in zip(starts, posts)]
            best_c = min(totals)
            if best_c < INF:
                cost[jj], back[jj] = best_c, starts[totals.index(best_c)]
        backs.append(back)
        if cost[m - 1] < best_total:
            best_total, best_k = cost[m - 1], k
        prev = cost
    if best_total == INF:
        return None
    out = []
    jj = m - 1
    for k in range(best_k, 0, -1):
        out.append(places[jj])
        jj = backs[k - 1][jj]
    return out[::-1]


def _edges(units: Units, caps: Caps, end: int, places: list[int]) -> list[tuple[list[int], list[float]]]:
    """For each place j, the places i a post units[i:j] may start at, and those posts' costs.

    The cost of a post does not depend on its rank in the thread (only on whether it is the
    first or the last), so the edges are computed once for every layer of the DP.
    """
    mid, first, last, single = caps.all()
    cum0, gap0 = units.cum[0], units.gap[0]
    pen = units.readable_costs()
    multi = units.dims > 1 and units.secondary_binds(caps.all())
    fits = units.fits
    weight = READABLE_SLACK_WEIGHT
    edges: list[tuple[list[int], list[float]]] = [([], [])]
    at = [cum0[p] for p in places]  # where each place starts, to find the windows by bisection
    for jj in range(1, len(places)):
        j = places[jj]
        is_end = j == end
        bp = 0.0 if is_end else pen[j - 1]
        starts: list[int] = []
        posts: list[float] = []
        edges.append((starts, posts))
        if bp == INF:
            continue
        right = cum0[j] - gap0[j - 1]
        c0 = (last if is_end else mid)[0]
        base = bp + POST_COST
        # Posts from places[lo:hi] are neither longer than the room nor runts; runts are kept
        # only where nothing else ends here, and for the last post.
        lo = bisect_left(at, right - c0, 0, jj)
        hi = jj if is_end else bisect_right(at, right - c0 * RUNT_SHARE, lo, jj)
        if hi <= lo:
            hi = jj
        for ii in range(lo, hi):
            i = places[ii]
            capv = (single if is_end else first) if i == 0 else (last if is_end else mid)
            length = right - at[ii]
            if length > capv[0]:
                continue  # only the first post's smaller room can refuse here
            slack = (capv[0] - length) / capv[0]
            c = base + weight * slack * slack
            if length < capv[0] * RUNT_SHARE and not (i == 0 and is_end):
                c += RUNT_COST
            if not multi or fits(i, j, capv):
                starts.append(ii)
                posts.append(c)
    return edges
