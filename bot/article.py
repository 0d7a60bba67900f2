"""Parse an article file (front matter, body, #hashtag line, keywords line) into an `Article`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


def parse_article(text: str, *, path: str | None = None, default_lang: str | None = None) -> Article:
    """Parse article text; raise `bot.errors.BadInput` naming `path` on bad input."""
    raise NotImplementedError


def load_article(path: str | Path, *, default_lang: str | None = None) -> Article:
    """Read and parse an article file; raise `BadInput` for unreadable, binary, non-UTF-8 or oversize files."""
    raise NotImplementedError
