"""URL extraction as twitter-text (X) and Mastodon find URLs in a post."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import regex

from bot.platforms.tlds import COUNTRY_TLDS, GENERIC_TLDS

# The building blocks follow twitter-text's JavaScript regexes (js/src/regexp/*.js, v3 era), which
# its conformance files (extract.yml, tlds.yml) are written against. Python's `regex` module gives
# the atomic groups and possessive quantifiers that keep long inputs linear, as the Java port does.
_INVALID = "\ufffe\ufeff\uffff\u202a-\u202e"
_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_SPACES = r"\x09-\x0d\x20\x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_LATIN_ACCENTS = (
    r"\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    r"\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = r"\u0400-\u04ff"

_DC = f"[^{_PUNCT}{_SPACES}{_INVALID}]"  # a domain character: anything but punctuation and space
_SUBDOMAIN = f"(?>(?:{_DC}(?:[_-]|{_DC})*)?{_DC}\\.)"
_DOMAIN_NAME = f"(?:(?:{_DC}(?:-|{_DC})*)?{_DC}\\.)"


def _trie_pattern(words: tuple[str, ...]) -> str:
    """An alternation of `words` as a prefix tree, longer words tried first.

    The same strings as twitter-text's flat alternation, whose reverse-sorted order also tries
    `comcast` before `com`; the tree lets the engine branch on one character instead of trying
    some 1,500 TLDs one after the other.
    """
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word.lower():
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [regex.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = "|".join(branches) + ("|" if "" in node else "")
        return f"(?:{body})"

    return build(trie)


def _tld_alternation(tlds: tuple[str, ...]) -> str:
    return f"(?:{_trie_pattern(tlds)}(?=[^0-9a-z@+-]|$))"


_PUNYCODE = r"(?:xn--[\-0-9a-z]+)"


@cache
def _tlds() -> str:
    """The generic, country and punycode TLD alternatives (built on first use: ~15 ms)."""
    return f"{_tld_alternation(GENERIC_TLDS)}|{_tld_alternation(COUNTRY_TLDS)}|{_PUNYCODE}"


def _domain() -> str:
    return f"(?:{_SUBDOMAIN}*{_DOMAIN_NAME}(?:{_tlds()}))"

# Directional marks (U+202A-202E) may precede a URL (newer twitter-text, and its conformance cases).
_PRECEDING = "(?:[^A-Za-z0-9@＠$#＃\ufffe\ufeff\uffff]|^)"
_PORT = "[0-9]++"

# twitter-text's path and query characters (X).
_PC = f"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\\[\\]\\-\\u2013_~@|&{_LATIN_ACCENTS}]"
_BALANCED = f"\\((?:{_PC}+|(?:{_PC}*\\({_PC}+\\){_PC}*))\\)"
_PATH_END = f"(?:[+\\-a-z{_CYRILLIC}0-9=_#/{_LATIN_ACCENTS}]|(?:{_BALANCED}))"
_PATH = f"(?:(?:{_PC}*(?:{_BALANCED}{_PC}*)*{_PATH_END})|(?:@{_PC}+/))"
_QUERY = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = r"[a-z0-9\-_&=#/]"

class _LazyRegex:
    """A pattern compiled on first use: the URL patterns (with ~1,500 TLDs) take 0.07-0.3 s to
    compile, which `crieur --help` and commands that never count a URL should not pay.

    `engine` is `re` where the pattern needs nothing more (Python 3.11's `re` has atomic groups
    and possessive quantifiers, and compiles these patterns three times faster than `regex`),
    `regex` where it needs Unicode properties (Mastodon's White_Space class)."""

    def __init__(self, pattern: Callable[[], str], flags: int = 0, engine: Any = regex) -> None:
        self._pattern = pattern
        self._flags = flags
        self._engine = engine
        self._compiled: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = self._engine.compile(self._pattern(), self._flags)
        return getattr(self._compiled, name)


_X_URL = _LazyRegex(
    lambda: f"(?P<before>{_PRECEDING})(?P<url>(?P<protocol>https?://)?(?P<domain>{_domain()})"
    f"(?::{_PORT})?(?P<path>/{_PATH}*+)?(?:\\?{_QUERY}*{_QUERY_END})?)",
    re.IGNORECASE, engine=re,
)

# Mastodon widens the path and query characters and the schemes (config/initializers/twitter_regex.rb).
_M_UCHARS = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef\U00010000-\U0001fffd\U00020000-\U0002fffd"
    "\U00030000-\U0003fffd\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd"
    "\U00070000-\U0007fffd\U00080000-\U0008fffd\U00090000-\U0009fffd\U000a0000-\U000afffd"
    "\U000b0000-\U000bfffd\U000c0000-\U000cfffd\U000d0000-\U000dfffd\U000e1000-\U000efffd"
    "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
)
_M_PC = r"[^\p{White_Space}<>()?]"
_M_BALANCED = f"\\((?:{_M_PC}+|(?:{_M_PC}*\\({_M_PC}+\\){_M_PC}*))\\)"
_M_PATH_END = f"(?:[^\\p{{White_Space}}()?!*\"'「」<>;:=,.$%\\[\\]~&|@]|(?:{_M_BALANCED}))"
_M_PATH = f"(?:(?:{_M_PC}*(?:{_M_BALANCED}{_M_PC}*)*{_M_PATH_END})|(?:{_M_PC}+/))"
_M_QUERY = f"[a-z0-9!?*'();:&=+$/%#\\[\\]\\-_.,~|@^{_M_UCHARS}]"
_M_QUERY_END = f"[a-z0-9_&=#/\\-{_M_UCHARS}]"

_MASTODON_URL = _LazyRegex(
    lambda: f"(?P<before>{_PRECEDING})(?P<url>(?P<protocol>(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://)?"
    f"(?P<domain>{_domain()})(?::{_PORT})?(?P<path>/{_M_PATH}*+)?(?:\\?{_M_QUERY}*{_M_QUERY_END})?)",
    regex.IGNORECASE | regex.V0,
)

_ASCII_DOMAIN = _LazyRegex(lambda: f"(?:(?:[\\-a-z0-9{_LATIN_ACCENTS}]+)\\.)+(?:{_tlds()})", re.IGNORECASE,
                           engine=re)
_INVALID_BEFORE_BARE = regex.compile(r"[-_./]$")
_TCO = _LazyRegex(
    lambda: f"^https?://t\\.co/([a-z0-9]+)(?:\\?{_QUERY}*{_QUERY_END})?", re.IGNORECASE, engine=re
)

_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40
_MAX_LABEL_LENGTH = 63

Span = tuple[int, int, str]


def _punycode_length(label: str) -> int:
    """Length of a DNS label once IDNA-encoded, as punycode.js's toASCII gives it."""
    if label.isascii():
        return len(label)
    return 4 + len(label.encode("punycode"))


def _valid_domain_length(url: str, protocol: str, domain: str) -> bool:
    """twitter-text's idna check: labels of 1..63 encoded characters, whole URL within 4096."""
    if domain.lower().startswith("xn--") and not _ASCII_DOMAIN.search(domain):
        return False
    encoded = 0
    for label in domain.split("."):
        n = _punycode_length(label)
        if n < 1 or n > _MAX_LABEL_LENGTH:
            return False
        encoded += n
    encoded += domain.count(".")
    return len(protocol) + len(url) + encoded - len(domain) <= _MAX_URL_LENGTH


# A URL never contains one of twitter-text's spaces, so the full regex only needs to run over
# the space-free runs that hold a '.' (X) or "://" (Mastodon), starting one character early so
# that the space before the run can be the URL's preceding character. This keeps the scan of a
# long text to one C-level pass instead of trying the TLD alternation at every position.
# Every TLD starts with a letter, so a run must hold a '.' followed by a letter; Mastodon's
# URLs need "://". These markers are found with one fast stdlib `re` scan; the run around each
# is then bounded by the nearest spaces.
_DOT_LETTER = re.compile(r"\.[^\W\d_]")
_SCHEME_MARK = re.compile("://")
_SPACE_SET = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u180e\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)
_NEXT_SPACE = re.compile(f"[{_SPACES}]")


def _matches(text: str, pattern: regex.Pattern[str], marker: re.Pattern[str]) -> list[regex.Match[str]]:
    found: list[regex.Match[str]] = []
    done = 0
    for mark in marker.finditer(text):
        i = mark.start()
        if i < done:
            continue  # inside a run already scanned
        start = i
        while start > 0 and text[start - 1] not in _SPACE_SET:
            start -= 1
        space = _NEXT_SPACE.search(text, i)
        end = space.start() if space else len(text)
        # Start one early so that the space before the run can be the preceding character.
        # The run ends before a space or at the end of the text: `$` and the lookaheads that
        # accept a space behave the same there, so `endpos` changes no match.
        found.extend(pattern.finditer(text, max(start - 1, 0), end))
        done = end
    return found


def _extract(text: str, pattern: regex.Pattern[str], without_protocol: bool) -> list[Span]:
    urls: list[Span] = []
    marker = _DOT_LETTER if without_protocol else _SCHEME_MARK
    for m in _matches(text, pattern, marker):
        url, protocol, domain, path = m["url"], m["protocol"], m["domain"], m["path"]
        start, end = m.start("url"), m.end("url")
        if not _valid_domain_length(url, protocol or "https://", domain):
            continue
        if not protocol:
            if not without_protocol or _INVALID_BEFORE_BARE.search(m["before"]):
                continue
            # Only the ASCII-only domains inside a bare match are URLs; short ccTLD domains
            # without a path (`foo.jp`, `it.so`) count too, as twitter-text's conformance says.
            found: list[Span] = []
            ascii_end = 0
            for am in _ASCII_DOMAIN.finditer(domain):
                ascii_domain = am.group()
                ascii_start = domain.index(ascii_domain, ascii_end)
                ascii_end = ascii_start + len(ascii_domain)
                found.append((start + ascii_start, start + ascii_end, ascii_domain))
            if not found:
                continue
            if path:
                # The last bare domain carries the path (twitter-text replaces the domain in the URL).
                s0, _, last_domain = found[-1]
                found[-1] = (s0, end, url.replace(domain, last_domain, 1))
            urls.extend(found)
        else:
            tco = _TCO.search(url)
            if tco:
                if len(tco.group(1)) > _MAX_TCO_SLUG_LENGTH:
                    continue
                url = tco.group(0)
                end = start + len(url)
            urls.append((start, end, url))
    return urls


def extract_urls(text: str) -> list[Span]:
    """URLs as twitter-text (and so X) finds them: `(start, end, url)`, code-point indices.

    Bare domains count when their TLD is valid (`example.com`, `README.md`), with the
    twitter-text rules for short ccTLD domains, `t.co` slugs and preceding characters.
    """
    if "." not in text:  # twitter-text's own shortcut: no dot, no URL
        return []
    return _extract(text, _X_URL, without_protocol=True)


def extract_urls_with_scheme(text: str) -> list[Span]:
    """URLs as Mastodon counts them: only those with a scheme (`https://…`); bare domains do not count."""
    if ":" not in text:
        return []
    return _extract(text, _MASTODON_URL, without_protocol=False)
