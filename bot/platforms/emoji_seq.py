"""Emoji sequences as twitter-text weighs them, found with the `emoji` package's data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

# twitter-text's emoji data (TwitterTextEmojiRegex, generated from twemoji 12.1) covers Emoji 12.1:
# the newest sequences it knows are 12.1's gender-neutral ones (🧑‍🌾) and the 12.0 range up to 🪕.
# It also carries 🏳️‍⚧️ (twemoji shipped it early), but Emoji 13+ as a whole is unknown to it.
# A sequence newer than this cut-off is counted by its parts (🐦‍🔥 = 🐦 + ZWJ + 🔥 = 2 + 1 + 2),
# as twitter-text does; 🏳️‍⚧️ is therefore counted by parts (7) rather than 2: over, never under.
EMOJI_VERSION_CUTOFF = 12.1

_COARSE = "\\xa9\\xae\\u203c-\\u3299\\U0001f000-\\U0001faff"
# Where a sequence may start, coarsely (a large exact class scans slowly): its hits are checked
# against the tables. French typography (’ — … « » U+202F) lies outside it.
CANDIDATE = re.compile(f"[{_COARSE}]")
# Every sequence of two or more code points starts at a candidate (or is a keycap, U+20E3) and
# holds a joiner, a presentation selector, a tag sequence's end, a regional indicator or a skin
# tone. Text without them (most prose, and lone emoji like 🧵) has no sequence, so the tables
# are not even loaded.
_BMP_PARTS = ("\u200d", "\ufe0f", "\U000E007F")
_PAIRED = "[\U0001F1E6-\U0001F1FF\U0001F3FB-\U0001F3FF]"  # flags' halves, skin tones


def _may_hold_a_sequence(text: str) -> bool:
    if text.isascii():
        return False
    if "\u20e3" in text:
        return True
    first = CANDIDATE.search(text)
    if first is None:
        return False
    return any(part in text for part in _BMP_PARTS) or re.compile(_PAIRED).search(text, first.start()) is not None


class _Tables(NamedTuple):
    known: dict[str, bool]  # sequence -> within the cut-off
    lengths: dict[str, tuple[int, ...]]  # first code point -> sequence lengths, longest first
    with_keycaps: re.Pattern[str]


@cache
def _tables() -> _Tables:
    """The sequences of the `emoji` package's data, loaded on the first emoji-like character
    (importing `emoji` and indexing its data costs ~30 ms that prose without emoji never pays).

    Only sequences of two or more code points matter: a lone emoji code point is outside every
    weight-100 range, so it weighs 2 whether or not it is recognised. Bare © and ® are not
    sequences, and twitter-text only treats them as emoji with U+FE0F, so they stay at weight 1.
    """
    import emoji

    known = {seq: data["E"] <= EMOJI_VERSION_CUTOFF for seq, data in emoji.EMOJI_DATA.items() if len(seq) > 1}
    lengths: dict[str, tuple[int, ...]] = {}
    for seq in known:
        lengths[seq[0]] = tuple(sorted({*lengths.get(seq[0], ()), len(seq)}, reverse=True))
    ascii_starts = "".join(re.escape(c) for c in sorted(lengths) if c.isascii())
    if not all(CANDIDATE.match(c) for c in lengths if not c.isascii()):
        raise RuntimeError("the coarse emoji class misses a sequence start")
    # Keycaps (1️⃣) start with an ASCII digit, '#' or '*': only looked for when U+20E3 is present,
    # so the digits of ordinary numbers cost nothing.
    with_keycaps = re.compile(f"[{ascii_starts}](?=\\ufe0f?\\u20e3)|[{_COARSE}]")
    return _Tables(known, lengths, with_keycaps)


def sequences(text: str) -> Iterator[tuple[int, int, bool]]:
    """Yield `(start, end, known)` for each emoji sequence of 2+ code points, left to right.

    `known` is False for sequences newer than `EMOJI_VERSION_CUTOFF`: count those by `parts`.
    """
    if not _may_hold_a_sequence(text):
        return
    pos = 0
    n = len(text)
    if "\u20e3" in text:
        search = _tables().with_keycaps.search
    elif CANDIDATE.search(text) is None:
        return
    else:
        search = CANDIDATE.search
    tables = _tables()
    while True:
        m = search(text, pos)
        if m is None:
            return
        i = m.start()
        for length in tables.lengths.get(text[i], ()):
            if i + length <= n:
                known = tables.known.get(text[i : i + length])
                if known is not None:
                    yield i, i + length, known
                    pos = i + length
                    break
        else:
            pos = i + 1


def parts(seq: str) -> Iterator[tuple[int, int]]:
    """Spans of the known (≤ cut-off) emoji sequences inside a newer sequence `seq`."""
    i = 0
    n = len(seq)
    tables = _tables()
    while i < n:
        for length in tables.lengths.get(seq[i], ()):
            if length < n and i + length <= n and tables.known.get(seq[i : i + length]):
                yield i, i + length
                i += length
                break
        else:
            i += 1
