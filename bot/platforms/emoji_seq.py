"""Emoji sequences as twitter-text weighs them, found with the `emoji` package's data."""

from __future__ import annotations

import re
from collections.abc import Iterator

import emoji

# twitter-text's emoji data (TwitterTextEmojiRegex, generated from twemoji 12.1) covers Emoji 12.1:
# the newest sequences it knows are 12.1's gender-neutral ones (🧑‍🌾) and the 12.0 range up to 🪕.
# It also carries 🏳️‍⚧️ (twemoji shipped it early), but Emoji 13+ as a whole is unknown to it.
# A sequence newer than this cut-off is counted by its parts (🐦‍🔥 = 🐦 + ZWJ + 🔥 = 2 + 1 + 2),
# as twitter-text does; 🏳️‍⚧️ is therefore counted by parts (7) rather than 2: over, never under.
EMOJI_VERSION_CUTOFF = 12.1

# Only sequences of two or more code points matter: a lone emoji code point is outside every
# weight-100 range, so it weighs 2 whether or not it is recognised. Bare © and ® are not
# sequences, and twitter-text only treats them as emoji with U+FE0F, so they stay at weight 1.
_KNOWN: dict[str, bool] = {
    seq: data["E"] <= EMOJI_VERSION_CUTOFF for seq, data in emoji.EMOJI_DATA.items() if len(seq) > 1
}
# For each first code point, the sequence lengths to try, longest first.
_LENGTHS: dict[str, tuple[int, ...]] = {}
for _seq in _KNOWN:
    _LENGTHS.setdefault(_seq[0], ())
    _LENGTHS[_seq[0]] = tuple(sorted({*_LENGTHS[_seq[0]], len(_seq)}, reverse=True))

# Where a sequence may start. Keycaps start with an ASCII digit, '#' or '*': they are only
# candidates when a keycap mark follows, so ordinary numbers never reach the slow path.
# A coarse stdlib-`re` class (a large exact class scans slowly): its hits are checked against
# `_LENGTHS`. French typography (’ — … « » U+202F) lies outside it.
_ascii_starts = "".join(re.escape(c) for c in sorted(_LENGTHS) if c.isascii())
_other_starts = sorted(c for c in _LENGTHS if not c.isascii())
_COARSE = "\\xa9\\xae\\u203c-\\u3299\\U0001f000-\\U0001faff"
CANDIDATE = re.compile(f"[{_COARSE}]")
# Keycaps (1️⃣) start with an ASCII digit, '#' or '*': only looked for when U+20E3 is present,
# so the digits of ordinary numbers cost nothing.
_CANDIDATE_WITH_KEYCAPS = re.compile(f"[{_ascii_starts}](?=\\ufe0f?\\u20e3)|[{_COARSE}]")
assert all(CANDIDATE.match(c) for c in _other_starts), "coarse emoji class misses a start"


def sequences(text: str) -> Iterator[tuple[int, int, bool]]:
    """Yield `(start, end, known)` for each emoji sequence of 2+ code points, left to right.

    `known` is False for sequences newer than `EMOJI_VERSION_CUTOFF`: count those by `parts`.
    """
    pos = 0
    n = len(text)
    search = (_CANDIDATE_WITH_KEYCAPS if "\u20e3" in text else CANDIDATE).search
    while True:
        m = search(text, pos)
        if m is None:
            return
        i = m.start()
        for length in _LENGTHS.get(text[i], ()):
            if i + length <= n:
                known = _KNOWN.get(text[i : i + length])
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
    while i < n:
        for length in _LENGTHS.get(seq[i], ()):
            if length < n and i + length <= n and _KNOWN.get(seq[i : i + length]):
                yield i, i + length
                i += length
                break
        else:
            i += 1
