"""Post numbering labels ("1/7", "🧵") of a thread of a given length."""

from __future__ import annotations

from collections.abc import Iterator

from bot.formatter.options import Numbering

THREAD_MARKER = " 🧵"


def numbering_label(style: Numbering, i: int, n: int) -> tuple[str, str]:
    """(prefix, suffix) numbering of post `i` of `n` (no numbering on a one-post thread)."""
    if n <= 1 or style == "none":
        return "", ""
    if style == "prefix":
        return f"{i}/{n} ", ""
    if style == "thread":
        return "", (THREAD_MARKER if i == 1 else "")
    return "", f" {i}/{n}"


def every_post_labels(style: Numbering, n: int) -> Iterator[str]:
    """The label each post of an `n`-post thread carries when every post is numbered."""
    if n > 1 and style in ("suffix", "prefix"):
        for i in range(1, n + 1):
            pre, suf = numbering_label(style, i, n)
            yield pre or suf
