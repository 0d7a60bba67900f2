"""Bluesky: graphemes and UTF-8 bytes of the text as the app posts it, long links shortened."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import re

import regex

from bot.platforms.base import Platform, _positive, graphemes

# @atproto/api rich-text detection (URL_REGEX): a link starts the text or follows whitespace or '('.
_LINK = re.compile(
    r"(^|\s|\()((https?://\S+)|((?P<domain>[a-z][a-z0-9]*(\.[a-z0-9]+)+)\S*))",
    re.IGNORECASE | re.MULTILINE,
)
_TRAILING_PUNCT = regex.compile(r"[.,;:!?]$")
# @atproto/api TAG_REGEX and TRAILING_PUNCTUATION_REGEX.
_TAG_EXCLUDED = r"\s\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(
    rf"(?!\ufe0f)[^{_TAG_EXCLUDED}]*[^\d\p{{P}}{_TAG_EXCLUDED}]+[^{_TAG_EXCLUDED}]*"
)
_TAG_TRAILING_PUNCT = regex.compile(r"\p{P}+$")
_JS_SPACE = regex.compile(r"[\s\ufeff]")
MAX_TAG_LENGTH = 64  # UTF-16 code units, as the app measures it

# WHATWG URL percent-encode sets, so that the path length is the one the app sees.
_PATH_SAFE = "!$&'()*+,-./:;=@_~%[]|^"
_QUERY_SAFE = "!$&()*+,-./:;=?@_~%[]|^`{}\\"
_FRAGMENT_SAFE = "!$&'()*+,-./:;=?@_~%[]|^#{}\\"


def to_short_url(url: str) -> str:
    """The Bluesky app's `toShortUrl`: host + path/query/fragment, cut to 13 characters + '...'
    when that part is longer than 15. `www.` is kept; non-http(s) or unparsable text is unchanged."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not host:
        return url
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return url
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme.lower()]:
        host = f"{host}:{port}"
    path = quote(parts.path.replace("\\", "/"), safe=_PATH_SAFE)
    rest = "" if path in ("", "/") else path
    if parts.query:
        rest += "?" + quote(parts.query, safe=_QUERY_SAFE)
    if parts.fragment:
        rest += "#" + quote(parts.fragment, safe=_FRAGMENT_SAFE)
    if _utf16_len(rest) > 15:
        return host + rest[:13] + "..."
    return host + rest


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def link_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the http(s) links the app turns into link facets (and so shortens)."""
    spans: list[tuple[int, int]] = []
    for m in _LINK.finditer(text):
        uri = m.group(2)
        if not uri.startswith("http"):
            continue  # bare domains keep their text: toShortUrl cannot parse them
        start, end = m.start(2), m.end(2)
        if _TRAILING_PUNCT.search(uri):
            uri = uri[:-1]
            end -= 1
        if uri.endswith(")") and "(" not in uri:
            end -= 1
        spans.append((start, end))
    return spans


class Bluesky(Platform):
    """Bluesky: 300 graphemes and 3000 UTF-8 bytes of the displayed text, where each http(s)
    link is replaced by the app's shortened form (`host/path-start...`) before counting.

    `measure(text) == (graphemes, utf8_bytes)` of `display(text)`; `maxima == (limit, max_bytes)`.
    """

    name = "bluesky"
    default_limit = 300
    supports_cw = False
    overrides = ("limit", "max_bytes")

    def __init__(self, limit: int | None = None, max_bytes: int = 3000) -> None:
        super().__init__(limit)
        self.max_bytes: int = _positive("max_bytes", max_bytes)

    def display(self, text: str) -> str:
        if "http" not in text and "HTTP" not in text.upper():
            return text
        out: list[str] = []
        last = 0
        for start, end in link_spans(text):
            out.append(text[last:start])
            out.append(to_short_url(text[start:end]))
            last = end
        out.append(text[last:])
        return "".join(out)

    def length(self, text: str) -> int:
        return graphemes(self.display(text))

    def measure(self, text: str) -> tuple[int, ...]:
        shown = self.display(text)
        return (graphemes(shown), len(shown.encode("utf-8")))

    @property
    def maxima(self) -> tuple[int, ...]:
        return (self.limit, self.max_bytes)

    def hashtag_valid(self, tag: str) -> bool:
        if not tag or _TAG.fullmatch(tag) is None:
            return False
        # The app strips trailing punctuation from the tag: "#tag!" links "tag", not "tag!".
        if _TAG_TRAILING_PUNCT.search(tag):
            return False
        return _utf16_len(tag) <= MAX_TAG_LENGTH

    def hashtag_recognised_at(self, text: str, index: int) -> bool:
        return index <= 0 or _JS_SPACE.match(text[index - 1]) is not None
