"""Turn a feed entry's HTML into plain-text paragraphs (tags dropped, entities unescaped)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements that end a paragraph. <br> counts too: feeds often separate paragraphs with <br><br>,
# and a lone <br> (a line break in a poem, an address) reads well as a new post segment anyway.
_BLOCK_TAGS = frozenset({
    "p", "div", "br", "hr", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "section", "article", "header",
    "footer", "aside", "figure", "figcaption", "details", "summary", "address", "main", "nav",
})
# Their text is never prose.
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title", "iframe", "svg"})
# Breaking whitespace collapses to one space; no-break spaces (U+00A0, U+2007, U+202F) stay, as in
# `bot.article`: French typography puts them before « : ; ! ? » and the formatter must not break there.
_SPACES = re.compile(r"[ \t\n\r\f\v\u0085\u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f\u3000]+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # unescapes &amp; &eacute; &#8217; in text
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._skip_depth = 0

    def _break(self) -> None:
        text = _SPACES.sub(" ", "".join(self._current)).strip()
        if text:
            self.paragraphs.append(text)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self._break()
        elif tag == "img":
            # An inline image's alt text is part of the sentence it sits in (emoji images, mostly).
            alt = dict(attrs).get("alt")
            if alt and not self._skip_depth:
                self._current.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            return  # <script/> opens nothing
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._current.append(data)

    def close(self) -> None:
        super().close()
        self._break()


def html_to_paragraphs(html: str) -> tuple[str, ...]:
    """The paragraphs of an HTML fragment, each whitespace-normalised, empty ones dropped.

    Block elements (`<p>`, `<div>`, `<li>`, headings, …) and `<br>` separate paragraphs;
    other tags are dropped and keep their text; `<script>`/`<style>` content is dropped;
    entities are unescaped; `&nbsp;` stays a no-break space inside a paragraph.
    """
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return tuple(collector.paragraphs)


def text_to_paragraphs(text: str) -> tuple[str, ...]:
    """The paragraphs of plain text: separated by blank lines, each whitespace-normalised."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    return tuple(p for p in (_SPACES.sub(" ", b).strip() for b in blocks) if p)
