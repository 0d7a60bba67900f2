"""Mastodon: grapheme counting with URLs at a fixed cost and remote mentions as local ones."""

from __future__ import annotations

import regex

from bot.errors import BadInput
from bot.platforms.base import Platform, _positive, graphemes
from bot.platforms.urls import extract_urls_with_scheme

# Account::MENTION_RE with USERNAME_RE (app/models/account.rb).
_MENTION = regex.compile(
    r"(?<![=/\w])@(([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\w.-]+\w+)?)", regex.IGNORECASE
)
# twitter-text's end_mention_match: a mention directly followed by these is not one.
_MENTION_END = regex.compile(
    r"[@＠\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    r"\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff]|://"
)
# Tag::HASHTAG_NAME_PAT (app/models/tag.rb): letters, digits, '_' and a few separators, at least one letter.
_SEP = "_\u00b7\u30fb\u200c"
_WORD = r"[\p{L}\p{M}\p{Nd}\p{Pc}]"
_WORD_SEP = rf"[\p{{L}}\p{{M}}\p{{Nd}}\p{{Pc}}{_SEP}]"
_ALPHA = r"[\p{Alphabetic}\p{M}]"
_HASHTAG_NAME = regex.compile(
    rf"(?:{_WORD}{_WORD_SEP}*[\p{{Alphabetic}}\p{{M}}{_SEP}]{_WORD_SEP}*{_WORD})"
    rf"|(?:{_WORD}*{_ALPHA}{_WORD}*)",
    regex.IGNORECASE,
)


def _countable_entities(text: str, url_length: int) -> list[tuple[int, int, int]]:
    """`(start, end, counted_length)` of URLs and mentions, overlaps removed (earlier wins)."""
    entities: list[tuple[int, int, int]] = []
    if ":" in text:
        entities.extend((s, e, url_length) for s, e, _ in extract_urls_with_scheme(text))
    if "@" in text:
        for m in _MENTION.finditer(text):
            if _MENTION_END.match(text, m.end()):
                continue
            entities.append((m.start(), m.end(), 1 + graphemes(m.group(2))))
    entities.sort()
    kept: list[tuple[int, int, int]] = []
    for entity in entities:
        if not kept or entity[0] >= kept[-1][1]:
            kept.append(entity)
    return kept


#: How a Mastodon-API server counts a status: Mastodon's StatusLengthValidator, or every
#: character as written with URLs and mentions in full — grapheme clusters (Akkoma, Pleroma) or
#: code points (GoToSocial).
COUNTINGS = ("mastodon", "graphemes", "code_points")


class Mastodon(Platform):
    """Mastodon (StatusLengthValidator): grapheme clusters; a URL with a scheme counts
    `url_length` (23 unless the instance says otherwise; a bare `example.com` counts in full);
    `@user@domain` counts as `@user`; a content warning counts toward the same limit.

    `counting="graphemes"` or `"code_points"`: a server that counts every character as written
    (URLs in full), as Akkoma and GoToSocial do; `url_length` is then only what they tell clients.
    """

    name = "mastodon"
    default_limit = 500
    supports_cw = True
    overrides = ("limit", "url_length", "counting")

    def __init__(self, limit: int | None = None, url_length: int = 23, counting: str = "mastodon") -> None:
        super().__init__(limit)
        self.url_length: int = _positive("url_length", url_length)
        if counting not in COUNTINGS:
            raise BadInput(f"platform option 'counting' must be one of {', '.join(COUNTINGS)}, not {counting!r}")
        self.counting = counting

    def __repr__(self) -> str:
        extra = f" counting={self.counting}" if self.counting != "mastodon" else ""
        return f"<{type(self).__name__} {self.name!r} limit={self.limit}{extra}>"

    def cw_length(self, cw: str) -> int:
        return len(cw) if self.counting == "code_points" else graphemes(cw)

    def length(self, text: str) -> int:
        if self.counting == "code_points":
            return len(text)
        if self.counting == "graphemes" or ("@" not in text and "://" not in text):
            return graphemes(text)
        total = 0
        last = 0
        for start, end, counted in _countable_entities(text, self.url_length):
            total += graphemes(text[last:start]) + counted
            last = end
        return total + graphemes(text[last:])

    def hashtag_valid(self, tag: str) -> bool:
        return bool(tag) and _HASHTAG_NAME.fullmatch(tag) is not None
