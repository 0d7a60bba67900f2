"""Where a body may be cut, and how good each place is: measured units and break costs.

The body is cut into units: segment pieces joined across NONE breaks (so every unit boundary
is a legal break), and hard-cut at grapheme boundaries when one unit is longer than a post.
Each boundary has a quality (`Break`) and, for the readable cut, a cost that also weighs what
editors avoid: a quotation cut from its marks, a post ending on a function word.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from bot.formatter.options import BreakKind
from bot.segment import Break, Piece, graphemes, pieces

Measure = tuple[int, ...]

# Function words a post should not end on ("… une discussion de 1/7"), lowercase, per language.
# One small list for all: a word that is a function word in one language is rarely a content
# word worth ending on in another.
FUNCTION_WORDS = frozenset(
    # French
    """le la les un une des de du d au aux à a et ou mais donc or ni car que qu qui dont ce cet
    cette ces son sa ses leur leurs mon ma mes ton ta tes notre nos votre vos en dans par pour
    sur sous avec sans entre vers chez ne se je tu il elle on nous vous ils elles y très si plus
    moins comme lors dès sauf selon malgré contre depuis pendant avant après devant parmi envers
    jusqu lorsque puisque quand"""
    # English
    """ the an of to in on at by for with from and or but as that which who whose this these
    those its his her their our your my is are was were be been has have had not no than into
    onto about over under via per if so very during before after without within between against
    among until when while because"""
    # German
    """ der die das den dem des ein eine einen einem einer eines und oder aber mit von vom zu
    zum zur im am an auf für bei beim aus nach über unter vor durch als wie dass sich nicht
    ist sind war wird werden hat haben ihr ihre sein seine gegen ohne seit während zwischen bis
    wenn weil ob"""
    # Spanish (and what Italian and Portuguese share with it)
    """ el los las lo unos unas del al y e o u pero con por para sin sobre su sus muy más
    desde hasta entre contra durante según cuando porque il gli di da nel della com um uma do dos
    na no""".split()
)
_STRIP = "«»“”„‹›\"'’()[]{}.,;:!?…—–-"
_OPENERS = frozenset("«“„‹")
_CLOSERS = frozenset("»”›")

# Costs of the readable cut (per break; the post count is weighed in bot.formatter.packing).
# Sentence and paragraph ends are rewards larger than what a post costs, so within the post
# count allowed the cut ends as many posts as it can at them; a clause end costs a little, a
# bare space a lot: a sentence is cut mid-clause only when no clause end is near.
READABLE_COST = {
    Break.PARAGRAPH: -13.0,
    Break.SENTENCE: -12.0,
    Break.CLAUSE: 4.0,
    Break.SPACE: 15.0,
    Break.CHAR: 15.0,
    Break.HARD: 40.0,
    Break.NONE: float("inf"),
}
FUNCTION_WORD_COST = 15.0  # on top of a space break after a function word
QUOTE_COST = 25.0  # on top of any break inside a quotation that fits in one post

# Costs of the compact cut, used only among the layouts with the fewest posts.
COMPACT_COST = {
    Break.PARAGRAPH: 0.0,
    Break.SENTENCE: 1.0,
    Break.CLAUSE: 4.0,
    Break.SPACE: 10.0,
    Break.CHAR: 10.0,
    Break.HARD: 30.0,
    Break.NONE: float("inf"),
}

_KIND_NAMES: dict[Break, BreakKind] = {
    Break.PARAGRAPH: "paragraph",
    Break.SENTENCE: "sentence",
    Break.CLAUSE: "clause",
    Break.SPACE: "space",
    Break.CHAR: "space",  # between two CJK characters inside a sentence: a bare-space break
    Break.HARD: "word",
}


def kind_name(brk: Break) -> BreakKind:
    """The name `Thread.breaks` uses for a break quality."""
    return _KIND_NAMES.get(brk, "word")


class Measurer:
    """Memoised `platform.measure`: a token is counted once per call of `format_thread`."""

    def __init__(self, measure: Callable[[str], tuple[int, ...]], dims: int) -> None:
        self._measure = measure
        self.dims = dims
        self._cache: dict[str, Measure] = {"": (0,) * dims}

    def __call__(self, text: str) -> Measure:
        try:
            return self._cache[text]
        except KeyError:
            m = self._cache[text] = tuple(self._measure(text))
            return m


def add(a: Measure, b: Measure) -> Measure:
    return tuple(x + y for x, y in zip(a, b))


def sub(a: Measure, b: Measure) -> Measure:
    return tuple(x - y for x, y in zip(a, b))


class Units:
    """The body as measured units, with prefix sums so a post's measure is a subtraction.

    Measures are additive across the whitespace between units (the platforms guarantee it), so
    the measure of units[i:j] is cum[d][j] - gap[d][j-1] - cum[d][i] (the separator at a break
    is dropped).
    """

    def __init__(self, units: list[Piece], measure: Measurer, hard_cap: Measure) -> None:
        self.measure = measure
        self.hard_cap = hard_cap
        self.dims = measure.dims
        units = _hard_cut(units, measure, hard_cap)
        self.pieces = units
        self.texts = [u.text for u in units]
        self.seps = [u.sep for u in units]
        self.brks = [u.brk for u in units]
        self.n = len(units)
        self.cum: list[list[int]] = []
        self.gap: list[list[int]] = []
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
        # full primary length could break a secondary cap, the packers skip those checks.
        self.ratio: list[float] = []
        for d in range(1, self.dims):
            worst = 0.0
            for m in wm + gm:
                if m[d]:
                    worst = max(worst, m[d] / m[0] if m[0] else float("inf"))
            self.ratio.append(worst)
        self.offsets = [0]  # character offset of each unit in the body
        total = 0
        for t, sep in zip(self.texts, self.seps):
            total += len(t) + len(sep)
            self.offsets.append(total)
        self._readable: list[float] | None = None
        # What the packers computed already, by their own keys (the hashtag trials ask again).
        self.count_memo: dict[tuple[object, ...], tuple[list[int], list[int]]] = {}
        self.plan_memo: dict[tuple[object, ...], list[int] | None] = {}

    @classmethod
    def of_text(cls, text: str, lang: str | None, measure: Measurer, hard_cap: Measure) -> Units:
        return cls(_merge(pieces(text, lang), measure), measure, hard_cap)

    def replaced(self, spans: list[tuple[int, int, str]]) -> Units:
        """The same body with `text[start:end]` replaced by `new` for each span.

        The units a span touches become one unit (an inline hashtag is never broken), so the
        rest of the body is neither re-segmented nor re-measured.
        """
        units = list(self.pieces)
        for start, end, new in sorted(spans, reverse=True):
            a = bisect_right(self.offsets, start) - 1
            b = bisect_right(self.offsets, end - 1) - 1
            joined = "".join(units[k].text + units[k].sep for k in range(a, b)) + units[b].text
            lo = start - self.offsets[a]
            hi = end - self.offsets[a]
            units[a : b + 1] = [Piece(joined[:lo] + new + joined[hi:], units[b].sep, units[b].brk)]
        return Units(units, self.measure, self.hard_cap)

    def unit_at(self, offset: int) -> int:
        """The index of the unit holding body character `offset`."""
        return bisect_right(self.offsets, offset) - 1

    def text(self, i: int, j: int) -> str:
        """The body text of units[i:j], separators between them included."""
        parts = []
        for k in range(i, j - 1):
            parts.append(self.texts[k])
            parts.append(self.seps[k])
        parts.append(self.texts[j - 1])
        return "".join(parts)

    def length(self, i: int, j: int, d: int = 0) -> int:
        """Measure `d` of units[i:j] as one post's body."""
        return self.cum[d][j] - self.gap[d][j - 1] - self.cum[d][i]

    def fits(self, i: int, j: int, cap: Measure) -> bool:
        for d in range(self.dims):
            if self.cum[d][j] - self.gap[d][j - 1] - self.cum[d][i] > cap[d]:
                return False
        return True

    def secondary_binds(self, caps: tuple[Measure, ...]) -> bool:
        """Can a secondary cap (Bluesky's bytes) refuse a post that the primary one accepts?"""
        return any(r * capv[0] > capv[d + 1] for capv in caps for d, r in enumerate(self.ratio))

    def readable_costs(self) -> list[float]:
        """The readable cost of a break after each unit (the last entry is unused)."""
        if self._readable is None:
            costs = [READABLE_COST[b] for b in self.brks]
            for k, (text, brk) in enumerate(zip(self.texts, self.brks)):
                if brk <= Break.SPACE and text.strip(_STRIP).lower() in FUNCTION_WORDS:
                    costs[k] += FUNCTION_WORD_COST
            for first, last in self._quotations():
                if self.fits(first, last + 1, self.hard_cap):
                    for k in range(first, last):
                        costs[k] += QUOTE_COST
            self._readable = costs
        return self._readable

    def _quotations(self) -> list[tuple[int, int]]:
        """(first unit, last unit) of each outermost quotation in « », “ ”, „ “ or straight quotes."""
        spans: list[tuple[int, int]] = []
        depth = 0
        start = 0
        straight_open: int | None = None
        for k, text in enumerate(self.texts):
            for pos, ch in enumerate(text):
                closes = ch in _CLOSERS or (ch == "“" and depth > 0)  # German „…“ closes with “
                if closes:
                    if depth:
                        depth -= 1
                        if depth == 0 and k > start:
                            spans.append((start, k))
                elif ch in _OPENERS:
                    if depth == 0:
                        start = k
                    depth += 1
                elif ch == '"':
                    if straight_open is None:
                        if pos == 0:
                            straight_open = k
                    else:
                        if k > straight_open:
                            spans.append((straight_open, k))
                        straight_open = None
        return spans


def _merge(raw: list[Piece], measure: Measurer) -> list[Piece]:
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


def _hard_cut(units: list[Piece], measure: Measurer, cap: Measure) -> list[Piece]:
    """Cut units longer than a post at grapheme boundaries: the only break inside a token."""
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
            if chunk and any(m > c for m, c in zip(measure(chunk + g), cap)):
                chunks.append(chunk)
                chunk = ""
            chunk += g
        chunks.append(chunk)
        out.extend(Piece(c, "", Break.HARD) for c in chunks[:-1])
        out.append(Piece(chunks[-1], u.sep, u.brk))
    return out
