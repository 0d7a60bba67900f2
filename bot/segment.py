"""Cut text into unbreakable pieces, each with the quality of a break after it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

import regex
import sentencex


class Break(IntEnum):
    """How good a place the end of a piece is to end a post (higher is better)."""

    NONE = 0  # never: inside a number, a quotation, "M. Dupont", before "%" or "?"
    HARD = 1  # a grapheme boundary inside an over-long token (the formatter's last resort)
    CHAR = 2  # between two CJK characters
    SPACE = 3
    CLAUSE = 4  # after ; : — , and a closing parenthesis, before a dash (and CJK 、，；：)
    SENTENCE = 5
    PARAGRAPH = 6


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of text the formatter never splits, then the separator that follows it.

    `sep` is whitespace ("" between CJK characters or at the end); `brk` is the quality of a
    break between this piece and the next one (the separator is dropped at a break).
    """

    text: str
    sep: str
    brk: Break


# Whitespace a line may break at. NBSP, NARROW NBSP and FIGURE SPACE are excluded on purpose:
# French typography uses them exactly where a break is forbidden ("1 000", "Bonjour !").
_BREAKABLE_WS = "\t\n\x0b\x0c\r \u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f\u3000"
_WORD = re.compile(rf"[^{_BREAKABLE_WS}]+")

_OPENING_QUOTES = frozenset("«“„‹‘([{¿¡")
# A piece starting with one of these belongs to the word before it (French puts a space there).
_GLUED_TO_PREVIOUS = frozenset("»”›’%‰:;!?)]}…")
_CLAUSE_END = (",", ";", ":", "—", "–", ")")
_SENTENCE_PUNCT = frozenset(".!?…")
_CLOSERS = frozenset("»”’\"')]›")

_GLUES_BACK = regex.compile(r"[\p{M}\u200c\u200d\ufe0e\ufe0f\U0001F3FB-\U0001F3FF]")
_NUMBER = regex.compile(r"^[\p{Sc}+\-−]?\d[\d.,\u00a0\u202f]*[\p{Sc}%‰]?$")
_GROUP_OF_THREE = regex.compile(r"^\d{3}(?:[.,]\d+)?[\p{Sc}%‰]?$")
_UNITS = frozenset(
    """% ‰ € $ £ ¥ ₽ ₴ h min s ms km m cm mm kg g t l ml ha °c °f ° k md mds m€ md€ mio
    million millions milliard milliards billion billions trillion trillions thousand
    mille millier milliers""".split()
)

# Abbreviations after which a "." does not end a sentence (lowercase, with their dots).
# Titles also bind to the name that follows ("M. Dupont" is never split).
_TITLES = frozenset(
    """m. mm. mme. mmes. mlle. mlles. dr. drs. pr. me. mgr. st. ste. mr. mrs. ms. prof. sr. jr.
    gen. gén. col. capt. lt. sgt. gov. sen. rep. rev. hr. fr. frau. herr.""".split()
)
_ABBREVIATIONS = _TITLES | frozenset(
    """p. pp. ex. cf. vs. v. env. vol. chap. fig. éd. ed. eds. hab. art. al. av. bd. no. nos. n°.
    e.g. i.e. approx. dept. est. jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec.
    janv. févr. avr. juil. déc. z.b. d.h. bzw. usw. vgl. nr. ca. u.a. s.o. etc. a.m. p.m.
    inc. ltd. co. corp. u.s. u.k. j.-c. apr.-j.-c. av.-j.-c.""".split()
)
# Abbreviations that can also end a sentence: only a capitalised next word makes it an end.
_MAY_END_SENTENCE = frozenset("etc. a.m. p.m. inc. ltd. co. corp. u.s. u.k. j.-c. usw.".split())

_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}ー]")
_CJK_SENTENCE = frozenset("。！？")
_CJK_CLAUSE = frozenset("、，；：")
# Kinsoku: these never start a line in CJK typography.
_CJK_NO_START = frozenset("。．、，；：！？」』）】〉》”’ー…々ゝゞぁぃぅぇぉっゃゅょァィゥェォッャュョ")
_CJK_NO_END = frozenset("「『（【〈《“‘")
_SENTENCEX_LANGS = frozenset("en fr de es it pt nl ca ru uk pl cs sv da no fi zh ja".split())


def sentence_ends(text: str, lang: str | None) -> set[int]:
    """Offsets in `text` just past the last non-space character of each sentence, per sentencex."""
    code = (lang or "en").split("-")[0].split("_")[0].lower()
    if code not in _SENTENCEX_LANGS:
        code = "en"
    ends: set[int] = set()
    for b in sentencex.get_sentence_boundaries(code, text):
        end = b["end_index"]
        while end > 0 and text[end - 1].isspace():
            end -= 1
        ends.add(end)
    return ends


def pieces(text: str, lang: str | None = None) -> list[Piece]:
    """Split `text` into pieces at every allowed break, best breaks marked.

    Joining `piece.text + piece.sep` for all pieces gives back `text` without its leading and
    trailing whitespace. The last piece has `sep == ""` and `brk == Break.PARAGRAPH`.
    """
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not words:
        return []
    ends = sentence_ends(text, lang)
    split = _split_cjk if _CJK.search(text) else _append
    out: list[Piece] = []
    last = len(words) - 1
    prev = ""
    for k, (start, end) in enumerate(words):
        word = text[start:end]
        if k == last:
            split(word, "", Break.PARAGRAPH, out)
            continue
        nstart, nend = words[k + 1]
        sep = text[end:nstart]
        if sep == " " and word[-1].isalpha() and text[nstart].isalpha() and end not in ends:
            brk = Break.SPACE  # the common case, decided without the rules below
        else:
            brk = _gap_break(prev, word, text[nstart:nend], sep, end in ends)
        split(word, sep, brk, out)
        prev = word
    return out


def _append(word: str, sep: str, brk: Break, out: list[Piece]) -> None:
    out.append(Piece(word, sep, brk))


def _gap_break(prev: str, word: str, nxt: str, sep: str, sentencex_end: bool) -> Break:
    """The quality of a break in the whitespace between `word` and `nxt` (`prev` precedes `word`)."""
    if sep.count("\n") >= 2:
        return Break.PARAGRAPH
    if _binds(word, nxt):
        return Break.NONE
    if "\n" in sep:
        return Break.SENTENCE
    lower = word.lower()
    if lower in _ABBREVIATIONS or _is_initial(word):
        if lower in _MAY_END_SENTENCE and nxt[:1].isupper():
            return Break.SENTENCE
        return Break.SPACE
    core = word.rstrip("".join(_CLOSERS))
    if _only_closers(word):
        # A lone closing quote, French style: "Bonjour. » Puis" ends where the quoted words did.
        core = prev.rstrip("".join(_CLOSERS))
        word = prev + word
    if sentencex_end or _ends_sentence(word, nxt):
        # sentencex also cuts after ":" or inside "« Bonjour. »"; only real end punctuation counts.
        if core[-1:] in _SENTENCE_PUNCT or word[-1:] in _CJK_SENTENCE:
            return Break.SENTENCE
    if word.endswith(_CLAUSE_END) or nxt in ("—", "–"):
        return Break.CLAUSE
    return Break.SPACE


def _binds(word: str, nxt: str) -> bool:
    """True when the space between `word` and `nxt` must not be broken."""
    if _GLUES_BACK.match(nxt):
        return True  # a combining mark or joiner after a space belongs to the space's grapheme
    if word[-1] in _OPENING_QUOTES and not word[-1].isalnum():
        return True  # "« Bonjour": the quote belongs to the word after it
    if nxt[0] in _GLUED_TO_PREVIOUS:
        return True  # "Bonjour »", "1,2 %", "Quoi ?"
    if word.lower() in _TITLES:
        return True  # "M. Dupont", "Dr. Smith"
    if word.lower() == "p." and nxt.lower().startswith("ex"):
        return True  # "p. ex."
    if _NUMBER.match(word):
        low = nxt.lower().rstrip(".,;:!?)")
        if low in _UNITS or _GROUP_OF_THREE.match(nxt) and len(word.strip("+-−")) <= 3:
            return True  # "$2.1 billion", "10 km", "1 000"
    return False


def _is_initial(word: str) -> bool:
    """"J." in "J. K. Rowling": a single capital letter and a dot is never a sentence end."""
    return len(word) == 2 and word[1] == "." and word[0].isupper()


def _only_closers(word: str) -> bool:
    return all(c in _CLOSERS for c in word)


def _ends_sentence(word: str, nxt: str) -> bool:
    """The post-pass for quotes that end a sentence (`. » Puis`, `!” Then`) that sentencex misses."""
    core = word.rstrip("".join(_CLOSERS))
    if core == word or core[-1:] not in _SENTENCE_PUNCT:
        return False
    first = nxt.lstrip("«“„\"'(")
    return bool(first) and (first[0].isupper() or first[0].isdigit())


def _split_cjk(word: str, sep: str, brk: Break, out: list[Piece]) -> None:
    """Append `word` to `out`, cut between CJK characters and after CJK punctuation."""
    if not _CJK.search(word):
        out.append(Piece(word, sep, brk))
        return
    start = 0
    for i in range(1, len(word)):
        prev, cur = word[i - 1], word[i]
        if cur in _CJK_NO_START or prev in _CJK_NO_END:
            continue
        if prev in _CJK_SENTENCE:
            kind = Break.SENTENCE
        elif prev in _CJK_CLAUSE:
            kind = Break.CLAUSE
        elif _CJK.match(prev) and _CJK.match(cur):
            kind = Break.CHAR
        else:
            continue
        out.append(Piece(word[start:i], "", kind))
        start = i
    out.append(Piece(word[start:], sep, brk))


def graphemes(text: str) -> list[str]:
    """Extended grapheme clusters of `text` (emoji ZWJ sequences, flags and skin tones stay whole)."""
    return regex.findall(r"\X", text)
