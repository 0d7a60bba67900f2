"""Markdown constructs that a Markdown-rendering Mastodon server (Hollo: markdown-it, linkify on) would not show literally."""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from html.entities import html5

__all__ = ["markdown_changes", "warning_line"]

# Model of the renderer (dahlia/hollo src/text.ts): `new MarkdownIt({ linkify: true })`, i.e.
# markdown-it's "default" preset with every rule on — CommonMark plus GFM tables and `~~`
# strikethrough — html: false (tags are escaped, hence shown literally), breaks: false,
# typographer: false; plus mention, hashtag and replace-link plugins, which only link.

_SNIPPET_MAX = 40
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

# Block level (each applied with fullmatch/match to one line, blockquote markers removed).
_QUOTE = re.compile(r" {0,3}> ?")
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}(?=[^`]*$)|~{3,})")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_HR = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_SETEXT = re.compile(r" {0,3}(?:=+|-+)[ \t]*")
_BULLET = re.compile(r"( {0,3}[-+*])(?:([ \t]+)(.*))?")
_ORDERED = re.compile(r"( {0,3}(\d{1,9})[.)])(?:([ \t]+)(.*))?")
_REFDEF = re.compile(
    r" {0,3}\[((?:[^\[\]\\]|\\.){1,999})\]:[ \t]*(?:<[^<>\n]*>|\S+)"
    r"(?:[ \t]+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?[ \t]*"
)
_TABLE_DELIM = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")

# Inline level.
_URL = re.compile(r"(?:https?|ftp)://[^\s<>`\[\]()]+(?:\([^\s<>`()]*\)[^\s<>`\[\]()]*)*", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\""
_TICKS = re.compile(r"`+")
_AUTOLINK = re.compile(
    r"<(?:[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*)>"
)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|([A-Za-z][A-Za-z0-9]{1,31}));")
_LINK_TAIL = re.compile(
    r"\(\s*(?:<[^<>\n]*>|(?:[^\s()<]|\([^\s()]*\))(?:[^\s()]|\([^\s()]*\))*)?"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)"
)
_REF_TAIL = re.compile(r"\[((?:[^\[\]\\]|\\.)*)\]")


def _quote(snippet: str) -> str:
    """The snippet in double quotes, newlines shown as ↵, cut to _SNIPPET_MAX characters."""
    snippet = snippet.replace("\n", "↵")
    if len(snippet) > _SNIPPET_MAX:
        snippet = snippet[: _SNIPPET_MAX - 1] + "…"
    return f'"{snippet}"'


def _norm_label(label: str) -> str:
    return " ".join(label.split()).casefold()


def _indent(line: str) -> int:
    col = 0
    for ch in line:
        if ch == " ":
            col += 1
        elif ch == "\t":
            col += 4 - col % 4
        else:
            break
    return col


def _is_space(ch: str) -> bool:
    return ch.isspace()


def _is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch)[0] in "PS"


@dataclass
class _Run:
    """A run of `*`, `_` or `~` that may open and/or close emphasis."""

    marker: str
    start: int
    end: int
    count: int
    can_open: bool
    can_close: bool


@dataclass
class _Para:
    lines: list[str]
    line_nos: list[int]
    depth: int
    in_list: bool
    item_indent: int = 0


@dataclass
class _Found:
    items: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, line: int, col: int, message: str) -> None:
        self.items.append((line, col, message))


def _delim_run(m: str, i: int, j: int) -> _Run:
    """Classify m[i:j] (one marker repeated) with CommonMark's flanking rules."""
    marker = m[i]
    prev = m[i - 1] if i > 0 else " "
    nxt = m[j] if j < len(m) else " "
    prev_ws, next_ws = _is_space(prev), _is_space(nxt)
    prev_p, next_p = _is_punct(prev), _is_punct(nxt)
    left = not next_ws and (not next_p or prev_ws or prev_p)
    right = not prev_ws and (not prev_p or next_ws or next_p)
    if marker == "_":
        can_open = left and (not right or prev_p)
        can_close = right and (not left or next_p)
    else:
        can_open, can_close = left, right
    count = j - i
    if marker == "~":  # markdown-it: single `~` is text; an odd run's first `~` is text
        count -= count % 2
    return _Run(marker, i, j, count, can_open and count > 0, can_close and count > 0)


def _emphasis(runs: list[_Run], s: str, out: list[tuple[int, str]]) -> None:
    """CommonMark's "process emphasis" over the runs; report each opener/closer pair."""
    used: dict[tuple[int, int], int] = {}
    bottom: dict[tuple[str, bool, int], int] = {}  # CommonMark's openers_bottom: no opener below
    i = 0
    while i < len(runs):
        closer = runs[i]
        if not closer.can_close or closer.count == 0:
            i += 1
            continue
        found = -1
        key = (closer.marker, closer.can_open, (closer.end - closer.start) % 3)
        for j in range(i - 1, bottom.get(key, 0) - 1, -1):
            opener = runs[j]
            if opener.marker != closer.marker or not opener.can_open or opener.count == 0:
                continue
            if closer.marker != "~" and (opener.can_close or closer.can_open):
                total = (opener.end - opener.start) + (closer.end - closer.start)
                both3 = (opener.end - opener.start) % 3 == 0 and (closer.end - closer.start) % 3 == 0
                if total % 3 == 0 and not both3:
                    continue
            found = j
            break
        if found < 0:
            bottom[key] = i
            i += 1
            continue
        opener = runs[found]
        take = 2 if opener.count >= 2 and closer.count >= 2 else 1
        opener.count -= take
        closer.count -= take
        used[(found, i)] = used.get((found, i), 0) + take
        for k in range(found + 1, i):
            runs[k].count = 0
        if closer.count == 0:
            i += 1
    for (a, b), n in used.items():
        opener, closer = runs[a], runs[b]
        if opener.marker == "~":
            kind = "strikethrough"
        else:
            kind = {1: "italic", 2: "bold"}.get(n, "bold italic")
        out.append((opener.start, f"{kind}: {_quote(s[opener.start:closer.end])}"))


def _bracket_pairs(s: str) -> dict[int, int]:
    """Index of each `[` in s mapped to the index of its matching `]` (escapes skipped)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    j, n = 0, len(s)
    while j < n:
        ch = s[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "[":
            stack.append(j)
        elif ch == "]" and stack:
            pairs[stack.pop()] = j
        j += 1
    return pairs


def _link_at(s: str, i: int, refs: set[str], pairs: dict[int, int]) -> tuple[int, int] | None:
    """(index of `]`, end) of an inline or defined reference link whose `[` is at s[i]."""
    j = pairs.get(i, -1)
    if j < 0:
        return None
    tail = _LINK_TAIL.match(s, j + 1)
    if tail:
        return j, tail.end()
    if refs:
        ref = _REF_TAIL.match(s, j + 1)
        if ref:
            label = ref.group(1) or s[i + 1 : j]
            if _norm_label(label) in refs:
                return j, ref.end()
        if _norm_label(s[i + 1 : j]) in refs:
            return j, j + 1
    return None


def _inline(s: str, refs: set[str]) -> list[tuple[int, str]]:
    """Inline constructs in one paragraph's text s, as (index in s, description)."""
    out: list[tuple[int, str]] = []
    n = len(s)
    covered = bytearray(n)  # inside a linkified URL: its characters stay literal
    masked = list(s)
    for url in _URL.finditer(s):
        a, b = url.start(), url.end()
        while b > a and s[b - 1] in _URL_TRAILING:
            b -= 1
        covered[a:b] = b"\x01" * (b - a)
        masked[a:b] = "x" * (b - a)
    m = "".join(masked)
    runs: list[_Run] = []
    jumps: dict[int, int] = {}
    pairs = _bracket_pairs(s)
    i = 0
    while i < n:
        if i in jumps:
            i = jumps.pop(i)
            continue
        if covered[i]:
            i += 1
            continue
        ch = s[i]
        if ch == "\\":
            if i + 1 < n and s[i + 1] in _ASCII_PUNCT:
                out.append((i, f"backslash escape: {_quote(s[i:i + 2])} shows as {_quote(s[i + 1])}"))
                i += 2
            else:
                i += 1
        elif ch == "`":
            j = i
            while j < n and s[j] == "`":
                j += 1
            width = j - i
            closing = next((t for t in _TICKS.finditer(s, j) if t.end() - t.start() == width), None)
            if closing is not None:
                out.append((i, f"inline code: {_quote(s[i:closing.end()])}"))
                i = closing.end()
            else:
                i = j
        elif ch == "<" and (auto := _AUTOLINK.match(s, i)):
            out.append((i, f"autolink, angle brackets removed: {_quote(auto.group())}"))
            i = auto.end()
        elif ch == "&" and (ent := _ENTITY.match(s, i)) and (ent.group(1) is None or ent.group(1) + ";" in html5):
            out.append((i, f"HTML entity: {_quote(ent.group())} shows as {_quote(html.unescape(ent.group()))}"))
            i = ent.end()
        elif ch == "!" and i + 1 < n and s[i + 1] == "[" and (img := _link_at(s, i + 1, refs, pairs)):
            out.append((i, f"image: {_quote(s[i:img[1]])}"))
            jumps[img[0]] = img[1]
            i += 2
        elif ch == "[" and (link := _link_at(s, i, refs, pairs)):
            out.append((i, f"link: {_quote(s[i:link[1]])}"))
            jumps[link[0]] = link[1]
            i += 1
        elif ch in "*_~":
            j = i
            while j < n and s[j] == ch and not covered[j]:
                j += 1
            runs.append(_delim_run(m, i, j))
            i = j
        else:
            i += 1
    _emphasis(runs, s, out)
    return out


def _hard_breaks(para: _Para, found: _Found) -> None:
    for line, no in zip(para.lines[:-1], para.line_nos[:-1]):
        if line.endswith("  "):
            found.add(no, len(line), f"hard line break (two trailing spaces) after {_quote(line.rstrip()[-30:])}")
        else:
            trailing = len(line) - len(line.rstrip("\\"))
            if trailing % 2 == 1:
                found.add(no, len(line), f"hard line break (trailing backslash) after {_quote(line[-30:])}")


def _cells(line: str) -> int:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return len(_CELL_SPLIT.split(body))


def _strip_quotes(line: str) -> tuple[int, str]:
    depth = 0
    while q := _QUOTE.match(line):
        depth += 1
        line = line[q.end():]
    return depth, line


def markdown_changes(text: str) -> list[str]:
    """Describe every construct in `text` that Hollo's Markdown renderer would not show literally.

    Contract: pure and deterministic; returns one short English description per construct
    (emphasis, code, headings, quotes, lists, links, images, escapes, rules, tables, hard
    breaks, entities, autolinks...), each quoting its snippet (at most 40 characters), in
    the order they appear in `text`; an empty list means the text renders as written.
    Plain URLs, hashtags and mentions are never reported, nor are HTML tags (escaped by
    Hollo, hence shown literally).
    """
    found = _Found()
    chunks: list[tuple[str, list[int]]] = []  # inline-parsed text, the line number of each of its lines
    refs: set[str] = set()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    para: _Para | None = None
    fence: tuple[str, int] | None = None
    prev_depth = 0
    table_depth: int | None = None
    skip_line = -1
    list_indent: int | None = None  # content column of the last list item, while the list may go on

    def flush() -> None:
        nonlocal para
        if para is not None:
            _hard_breaks(para, found)
            chunks.append(("\n".join(para.lines), para.line_nos))
            para = None

    for no, raw in enumerate(lines):
        if no == skip_line:
            continue
        depth, line = _strip_quotes(raw)
        if fence is not None:
            closing = _FENCE_OPEN.match(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= fence[1] \
                    and not line[closing.end():].strip():
                fence = None
            continue
        if not line.strip():
            flush()
            prev_depth = depth
            table_depth = None
            continue
        lazy = para is not None and depth < para.depth
        if depth > prev_depth:
            found.add(no, 0, f"blockquote: {_quote(raw.strip())}")
            flush()
        elif depth < prev_depth and not lazy:
            flush()
        prev_depth = depth
        if table_depth is not None:
            if table_depth == depth and "|" in line:
                chunks.append((line, [no]))
                continue
            table_depth = None
        indent = _indent(line)
        if list_indent is not None:
            if indent >= list_indent:
                indent -= list_indent
            elif not (_BULLET.fullmatch(line) or _ORDERED.fullmatch(line)) and para is None:
                list_indent = None
        if para is not None and not lazy and _SETEXT.fullmatch(line) and indent < 4 \
                and (not para.in_list or _indent(line) >= para.item_indent):
            found.add(no, 0, f"setext heading underline {_quote(line.strip())} makes "
                             f"{_quote(para.lines[-1].strip())} a heading")
            flush()
            continue
        if indent >= 4:
            if para is not None:
                para.lines.append(line.strip())
                para.line_nos.append(no)
            else:
                found.add(no, 0, f"indented code block: {_quote(line)}")
            continue
        if (fence_open := _FENCE_OPEN.match(line)):
            found.add(no, 0, f"fenced code block: {_quote(line.strip())}")
            flush()
            fence = (fence_open.group(1)[0], len(fence_open.group(1)))
            continue
        if (atx := _ATX.fullmatch(line)):
            found.add(no, 0, f"heading: {_quote(line.strip())}")
            flush()
            content = _ATX_CLOSE.sub("", atx.group(2) or "")
            if content:
                chunks.append((content, [no]))
            continue
        if _HR.fullmatch(line):
            found.add(no, 0, f"thematic break (horizontal rule): {_quote(line.strip())}")
            flush()
            continue
        item = _BULLET.fullmatch(line) or _ORDERED.fullmatch(line)
        if item is not None:
            ordered = item.re is _ORDERED
            content = (item.group(4) if ordered else item.group(3)) or ""
            starts_list = (
                para is None
                or lazy
                or para.in_list
                or (content.strip() != "" and (not ordered or int(item.group(2)) == 1))
            )
            if starts_list:
                kind = "ordered list item" if ordered else "bullet list item"
                found.add(no, 0, f"{kind}: {_quote(line.strip())}")
                flush()
                gap = item.group(3) if ordered else item.group(2)
                spaces = len(gap or " ")
                list_indent = len(item.group(1)) + (spaces if 1 <= spaces <= 4 else 1)
                if content.strip():
                    para = _Para([content.strip()], [no], depth, True, list_indent)
                continue
        if "|" in line and no + 1 < len(lines):
            next_depth, next_line = _strip_quotes(lines[no + 1])
            if next_depth == depth and _TABLE_DELIM.fullmatch(next_line) and _indent(next_line) < 4 \
                    and next_line.strip()[0] in "|-:" and _cells(next_line) == _cells(line):
                found.add(no, 0, f"table: {_quote(line.strip())}")
                flush()
                chunks.append((line, [no]))
                table_depth = depth
                skip_line = no + 1
                continue
        if para is None and (ref := _REFDEF.fullmatch(line)) and ref.group(1).strip():
            found.add(no, 0, f"link reference definition, line hidden: {_quote(line.strip())}")
            refs.add(_norm_label(ref.group(1)))
            continue
        if para is not None and (lazy or para.depth == depth):
            para.lines.append(line.lstrip(" \t"))
            para.line_nos.append(no)
            if lazy:
                prev_depth = para.depth
        else:
            flush()
            para = _Para([line.lstrip(" \t")], [no], depth, False)
    flush()

    for chunk, line_nos in chunks:
        starts = [0] + [k + 1 for k, ch in enumerate(chunk) if ch == "\n"]
        for pos, message in _inline(chunk, refs):
            k = bisect_right(starts, pos) - 1
            found.add(line_nos[k], pos - starts[k] + 1, message)
    found.items.sort(key=lambda item: (item[0], item[1]))
    return [message for _, _, message in found.items]


def warning_line(server: str, changes: list[str]) -> str:
    """The one line preview and the desk show under a post `server` would not show as written."""
    return f"{server} renders Markdown, so this post will not read as written: {'; '.join(changes)}"
