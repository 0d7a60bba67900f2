"""Parse an article file (front matter, body, #hashtag line, keywords line) into an `Article`."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from bot.errors import BadInput

#: Articles larger than this are refused before being read: they are not articles.
MAX_BYTES = 1024 * 1024

#: Share of control characters above which a text is taken for binary data.
_BINARY_CONTROL_SHARE = 0.05

# Control bytes that are not whitespace (tab, LF, VT, FF, CR are text).
_CONTROL_BYTES = bytes((*range(0x01, 0x09), *range(0x0E, 0x20), 0x7F))

#: Builds the error for a front-matter problem at the value being checked (the caller raises it).
_Fail = Callable[[str], BadInput]

_FRONT_MATTER_KEYS = ("title", "url", "lang", "hashtags", "keywords", "media", "cw")
_MEDIA_KEYS = ("path", "alt")

# Label → language guessed from it (None: the label says nothing about the language).
# Matched case-insensitively on NFC text; "mots clés", "mots-clés", "mot clé", "mots clefs"...
_LABELS: tuple[tuple[str, str | None], ...] = (
    (r"mots?[\s\-]*cl(?:é|e|ef)s?", "fr"),
    (r"key[\s\-]*words?", "en"),
    (r"tags?", None),
    (r"schlagw(?:ö|oe|o)rte?r?", "de"),
    (r"stichw(?:ö|oe|o)rte?r?", "de"),
    (r"palabras[\s\-]+clave", "es"),
    (r"parole[\s\-]+chiave", "it"),
)
# The colon may follow a space, a no-break space or a narrow no-break space (French typography).
_KEYWORDS_LINE = re.compile(
    r"^\s*(?P<label>" + "|".join(f"(?:{pattern})" for pattern, _ in _LABELS) + r")"
    r"[ \t\u00a0\u202f]*:(?P<rest>.*)$",
    re.IGNORECASE,
)
_LABEL_LANG = [(re.compile(pattern + r"\Z", re.IGNORECASE), lang) for pattern, lang in _LABELS]

# A hashtag: `#` then a word character, then anything up to a space or another `#`.
_HASHTAG = re.compile(r"#(\w[^\s#]*)")
_HASHTAG_SEPARATORS = re.compile(r"[\s,;]+")
# Punctuation that closes the line or the list, not part of the tag ("#Europe." → "Europe").
_HASHTAG_TRAILING = ".,;:!?…"
_KEYWORD_SEPARATORS = re.compile(r"[,;]")
# "U.S.", "a.m.", "e. g." end with an abbreviation's dot, which is part of the keyword.
_ABBREVIATION_END = re.compile(r"(?:\b\w\.\s?){2,}\Z")

# Breaking whitespace collapses to one space; no-break spaces (U+00A0, U+2007, U+202F) are kept
# because French typography puts them before « : ; ! ? » and inside numbers ("1 000", "1,2 %").
_COLLAPSIBLE_SPACE = re.compile(r"[ \t\n\r\f\v\u0085\u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f]+")
# Control characters that are not whitespace: dropped from the body (a stray one would be posted).
_STRAY_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_LANG_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*\Z")
_FENCE = re.compile(r"---[ \t]*\Z")
_FENCE_END = re.compile(r"(?:---|\.\.\.)[ \t]*\Z")


@dataclass(frozen=True)
class Media:
    """An image (or video) to attach to the thread, with its alt text."""

    path: Path
    alt: str = ""


@dataclass(frozen=True)
class Article:
    """A parsed article: the pure input of the formatter.

    `paragraphs` are the body's paragraphs, whitespace-normalised inside each paragraph,
    in order; `body` is them joined with a blank line. `hashtags` are without the `#`, in the
    author's order; `keywords` are the keywords line's entries, stripped, in order.
    """

    paragraphs: tuple[str, ...]
    hashtags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    title: str | None = None
    url: str | None = None
    lang: str | None = None
    media: tuple[Media, ...] = ()
    cw: str | None = None
    path: str | None = None
    content_hash: str = field(default="", compare=False)
    # How `lang` was decided: "given", "front matter", "detected", "keywords label", "campaign".
    lang_source: str | None = field(default=None, compare=False)

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


def parse_article(text: str, *, path: str | None = None, default_lang: str | None = None,
                  lang: str | None = None) -> Article:
    """Parse article text; raise `bot.errors.BadInput` naming `path` on bad input.

    The text is NFC-normalised first; a leading BOM is dropped and CRLF/CR become LF.
    `content_hash` is the sha256 (hex) of that normalised text, so an edit changes it but
    re-saving with other line endings does not. Media paths are resolved relative to the
    directory of `path` (to the current directory without one). The language is `lang` (an
    explicit choice, `preview --lang`), else the front matter's `lang`, else the body's language
    when the offline detector is confident (bot.language), else the one its keywords label
    implies, else `default_lang` (the campaign's), else None.
    Errors are one line: `<path>: <problem>` or `<path>:<line>: <problem>`.
    """
    name = str(path) if path is not None else "<article>"
    if len(text) * 4 > MAX_BYTES:  # only encode when the text might be too big
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_BYTES:
            raise BadInput(f"{name}: larger than 1 MiB ({size:,} bytes)")
    if _looks_binary_text(text):
        raise BadInput(f"{name}: binary content")

    text = unicodedata.normalize("NFC", text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n"))
    content_hash = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    lines = text.split("\n")

    meta: dict[str, Any] = {}
    body_start = 0
    if lines and _FENCE.match(lines[0]):
        meta, body_start = _parse_front_matter(lines, name, path)

    body_lines = lines[body_start:]
    trailing_tags, trailing_keywords, label_lang = _take_trailing_lines(body_lines)
    paragraphs = _paragraphs(body_lines)
    if not paragraphs:
        raise BadInput(f"{name}: empty body")

    chosen_lang, lang_source = _choose_lang(lang, meta.get("lang"), paragraphs, label_lang, default_lang)
    return Article(
        paragraphs=paragraphs,
        hashtags=_dedup([*meta.get("hashtags", ()), *trailing_tags]),
        keywords=_dedup([*meta.get("keywords", ()), *trailing_keywords]),
        title=meta.get("title"),
        url=meta.get("url"),
        lang=chosen_lang,
        lang_source=lang_source,
        media=tuple(meta.get("media", ())),
        cw=meta.get("cw"),
        path=str(path) if path is not None else None,
        content_hash=content_hash,
    )


def _choose_lang(given: str | None, front: str | None, paragraphs: tuple[str, ...], label: str | None,
                 default: str | None) -> tuple[str | None, str | None]:
    """(language, how it was decided), in the order of `parse_article`; the detector runs only if needed."""
    if given:
        return given, "given"
    if front:
        return front, "front matter"
    from bot.language import detect_language

    detected = detect_language("\n".join(paragraphs))
    if detected:
        return detected, "detected"
    if label:
        return label, "keywords label"
    if default:
        return default, "campaign"
    return None, None


def load_article(path: str | Path, *, default_lang: str | None = None, lang: str | None = None) -> Article:
    """Read and parse an article file; raise `BadInput` for unreadable, binary, non-UTF-8 or oversize files.

    The size is checked before the file is read, so a huge file costs nothing.
    """
    name = str(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_BYTES:
                raise BadInput(f"{name}: larger than 1 MiB ({size:,} bytes)")
            # Read one byte past the limit: a file that grows (or a pipe) is still caught.
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise BadInput(f"{name}: larger than 1 MiB (more than {MAX_BYTES:,} bytes)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadInput(f"{name}: not UTF-8 (UTF-16 byte-order mark at offset 0)")
    if _looks_binary_bytes(data):
        raise BadInput(f"{name}: binary content")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{name}: not UTF-8 (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    return parse_article(text, path=name, default_lang=default_lang, lang=lang)


# --- binary detection -------------------------------------------------------------------------


def _looks_binary_bytes(data: bytes) -> bool:
    """True when `data` has a NUL byte or too many control bytes to be text."""
    if b"\x00" in data:
        return True
    if not data:
        return False
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    return controls / len(data) > _BINARY_CONTROL_SHARE


def _looks_binary_text(text: str) -> bool:
    """True when `text` has a NUL or too many control characters to be an article."""
    if "\x00" in text:
        return True
    if not text:
        return False
    return len(_STRAY_CONTROL.findall(text)) / len(text) > _BINARY_CONTROL_SHARE


# --- front matter -----------------------------------------------------------------------------


def _parse_front_matter(lines: list[str], name: str, path: str | Path | None) -> tuple[dict[str, Any], int]:
    """Parse the `---` block opening `lines`; return its checked fields and the body's first line index."""
    end = next((i for i in range(1, len(lines)) if _FENCE_END.match(lines[i])), None)
    if end is None:
        raise BadInput(f"{name}:1: front matter is not closed (no '---' line after it)")
    source = "\n".join(lines[1:end])

    def fail(node: yaml.Node, problem: str) -> BadInput:
        # File lines: the opening `---` is line 1, so YAML's 0-based line n is file line n + 2.
        return BadInput(f"{name}:{node.start_mark.line + 2}: {problem}")

    loader = yaml.SafeLoader(source)
    try:
        root = loader.get_single_node()
        if root is None:
            return {}, end + 1
        if not isinstance(root, yaml.MappingNode):
            known = ", ".join(_FRONT_MATTER_KEYS)
            raise fail(root, f"front matter must be a mapping of keys ({known}), not {_kind(root)}")
        meta: dict[str, Any] = {}
        seen: set[str] = set()
        for key_node, value_node in root.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in _FRONT_MATTER_KEYS:
                shown = repr(key) if key is not None else _kind(key_node)
                raise fail(key_node, f"unknown front-matter key {shown} (known: {', '.join(_FRONT_MATTER_KEYS)})")
            if key in seen:
                raise fail(key_node, f"front-matter key '{key}' is given twice")
            seen.add(key)
            value = _front_matter_value(key, value_node, lambda problem, n=value_node: fail(n, problem))
            if key == "hashtags" and _is_null(value_node) and "#" in lines[key_node.start_mark.line + 1]:
                # `hashtags: #a #b` is a YAML comment, so an empty value: say so rather than drop the tags.
                problem = "front matter 'hashtags': '#' starts a YAML comment; quote the value or use a list"
                raise fail(key_node, problem)
            if value not in (None, ()):
                meta[key] = value
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else 1
        problem = " ".join(str(exc.problem or exc.context or "unreadable").split())
        raise BadInput(f"{name}:{line}: front matter is not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{name}:1: front matter is not valid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()
    if "media" in meta:
        base = Path(path).parent if path is not None else Path()
        meta["media"] = tuple(Media(path=base / Path(p).expanduser(), alt=alt) for p, alt in meta["media"])
    return meta, end + 1


def _front_matter_value(key: str, node: yaml.Node, fail: _Fail) -> Any:
    """Check one front-matter value's type and return it in the `Article` field's shape."""
    if key in ("title", "cw", "url", "lang"):
        value = _scalar_text(node, f"front matter '{key}' must be text, not {_kind(node)}", fail)
        if value is not None and key == "url" and not re.match(r"https?://\S+\Z", value):
            raise fail(f"front matter 'url' must be an http(s) URL, not {value!r}")
        if value is not None and key == "lang" and not _LANG_TAG.match(value):
            raise fail(f"front matter 'lang' must be a language code such as 'fr' or 'en-GB', not {value!r}")
        return value
    if key == "hashtags":
        return tuple(_tag_entries(node, fail))
    if key == "keywords":
        return tuple(_keyword_entries(node, fail))
    return tuple(_media_entries(node, fail))


def _tag_entries(node: yaml.Node, fail: _Fail) -> list[str]:
    """Hashtags from a list (`[a, "#b"]`) or a string (`"#a #b"`), without their `#`."""
    expected = "front matter 'hashtags' must be a list or a string of #tags"
    if isinstance(node, yaml.SequenceNode):
        tags = []
        for item in node.value:
            entry = _scalar_text(item, f"{expected}, not a list of {_kind(item)}", fail)
            if entry is None:
                continue
            tag = entry.lstrip("#")
            if not tag or any(ch.isspace() for ch in tag) or "#" in tag:
                raise fail(f"front matter 'hashtags' entry {entry!r} is not a hashtag")
            tags.append(tag)
        return tags
    if _is_null(node):
        return []
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        raise fail(f"{expected}, not {_kind(node)}")
    tags = []
    for token in _HASHTAG_SEPARATORS.split(node.value.strip()):
        tag = token.lstrip("#").rstrip(_HASHTAG_TRAILING)
        if token and not tag or "#" in tag:
            raise fail(f"front matter 'hashtags' entry {token!r} is not a hashtag")
        if tag:
            tags.append(tag)
    return tags


def _keyword_entries(node: yaml.Node, fail: _Fail) -> list[str]:
    """Keywords from a list or a comma (or semicolon) separated string."""
    expected = "front matter 'keywords' must be a list or a comma-separated string"
    if isinstance(node, yaml.SequenceNode):
        entries = [_scalar_text(item, f"{expected}, not a list of {_kind(item)}", fail) for item in node.value]
        return _clean_keywords(entry for entry in entries if entry is not None)
    if _is_null(node):
        return []
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        raise fail(f"{expected}, not {_kind(node)}")
    return _clean_keywords(_KEYWORD_SEPARATORS.split(node.value))


def _media_entries(node: yaml.Node, fail: _Fail) -> list[tuple[str, str]]:
    """(path, alt) pairs from a list of `{path, alt}` mappings, a single mapping, or bare paths."""
    expected = "front matter 'media' must be a list of {path, alt} mappings or one mapping"
    items = node.value if isinstance(node, yaml.SequenceNode) else [] if _is_null(node) else [node]
    media = []
    for index, item in enumerate(items):
        where = f"media[{index}]" if isinstance(node, yaml.SequenceNode) else "media"
        if isinstance(item, yaml.ScalarNode) and item.tag == "tag:yaml.org,2002:str":
            media.append((item.value.strip(), ""))  # a bare path: no alt text
            continue
        if not isinstance(item, yaml.MappingNode):
            raise fail(f"{expected}, not {_kind(item)}")
        fields: dict[str, str | None] = {}
        for key_node, value_node in item.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in _MEDIA_KEYS:
                raise fail(f"unknown key {key!r} in front matter '{where}' (known: {', '.join(_MEDIA_KEYS)})")
            message = f"front matter '{where}.{key}' must be text, not {_kind(value_node)}"
            fields[key] = _scalar_text(value_node, message, fail)
        if not fields.get("path"):
            raise fail(f"front matter '{where}' has no 'path'")
        media.append((str(fields["path"]), fields.get("alt") or ""))
    return media


def _scalar_text(node: yaml.Node, message: str, fail: _Fail) -> str | None:
    """The text of a scalar as written (`title: 1984` is "1984", `title: yes` is "yes"); None if null or empty."""
    if not isinstance(node, yaml.ScalarNode):
        raise fail(message)
    if _is_null(node):
        return None
    value = node.value.strip()
    return value or None


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _kind(node: yaml.Node) -> str:
    """How a YAML node is named in error messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return {
        "tag:yaml.org,2002:int": "a number",
        "tag:yaml.org,2002:float": "a number",
        "tag:yaml.org,2002:bool": "true/false",
        "tag:yaml.org,2002:null": "empty",
        "tag:yaml.org,2002:str": "text",
    }.get(node.tag, "a date" if node.tag.endswith(":timestamp") else "a value")


# --- body, hashtag line, keywords line --------------------------------------------------------


def _take_trailing_lines(lines: list[str]) -> tuple[list[str], list[str], str | None]:
    """Remove the trailing hashtag and keywords lines from `lines` (in place).

    Only lines after the last body line count, in any order and number, blank lines between
    them allowed: a `#tag` line or a "Keywords:" line followed by more body text is body.
    Returns (hashtags, keywords, language implied by the keywords label), in file order.
    """
    hashtag_lines: list[list[str]] = []
    keyword_lines: list[tuple[list[str], str | None]] = []
    while lines:
        line = lines[-1]
        if not line.strip():
            lines.pop()
            continue
        tags = _hashtag_line(line)
        if tags is not None:
            hashtag_lines.insert(0, tags)
        else:
            match = _KEYWORDS_LINE.match(line)
            if match is None:
                break
            entries = _clean_keywords(_KEYWORD_SEPARATORS.split(match["rest"]))
            keyword_lines.insert(0, (entries, _label_lang(match["label"])))
        lines.pop()
    hashtags = [tag for tags in hashtag_lines for tag in tags]
    keywords = [keyword for entries, _ in keyword_lines for keyword in entries]
    lang = next((lang for _, lang in keyword_lines if lang), None)
    return hashtags, keywords, lang


def _hashtag_line(line: str) -> list[str] | None:
    """The tags of a line made only of `#tags` (whitespace or comma separated), else None."""
    tokens = [token for token in _HASHTAG_SEPARATORS.split(line.strip()) if token]
    tags = []
    for token in tokens:
        match = _HASHTAG.fullmatch(token.rstrip(_HASHTAG_TRAILING))
        if match is None:
            return None
        tags.append(match[1])
    return tags or None


def _label_lang(label: str) -> str | None:
    label = " ".join(label.split())
    return next((lang for pattern, lang in _LABEL_LANG if pattern.match(label)), None)


def _clean_keywords(entries: Iterable[str]) -> list[str]:
    """Strip entries, drop empty ones and a closing `.` (but not an abbreviation's: "U.S.")."""
    cleaned = []
    for entry in entries:
        entry = " ".join(str(entry).split())
        if entry.endswith(".") and not _ABBREVIATION_END.search(entry):
            entry = entry.rstrip(".").rstrip()
        if entry:
            cleaned.append(entry)
    return cleaned


def _paragraphs(lines: list[str]) -> tuple[str, ...]:
    """Blank-line separated paragraphs, each with its breaking whitespace collapsed to single spaces."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line)
            continue
        if current:
            paragraph = _COLLAPSIBLE_SPACE.sub(" ", _STRAY_CONTROL.sub("", " ".join(current))).strip()
            if paragraph.strip():
                paragraphs.append(paragraph)
            current = []
    return tuple(paragraphs)


def _dedup(items: list[str]) -> tuple[str, ...]:
    """`items` in order, exact duplicates removed."""
    return tuple(dict.fromkeys(items))
