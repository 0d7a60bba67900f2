"""The boundary between the user's format options and the formatter: a limit too small for an article
is said in one line (exit 2), never as the formatter's internal AssertionError."""

from __future__ import annotations

from typing import Any

from bot.errors import BadInput


class FormatOptionsError(BadInput):
    """The format options (a limit, numbering, link, content warning) leave no room for the article."""


def format_checked(article: Any, platform: Any, options: Any = None) -> Any:
    """`bot.formatter.format_thread`, with options that cannot work reported as FormatOptionsError.

    The formatter treats an impossible layout as its own bug (AssertionError); at this boundary
    it is the user's input that cannot be met, so it becomes one readable line naming the
    article, the platform, its limit and what does not fit.
    """
    from bot.formatter import format_thread

    try:
        return format_thread(article, platform, options)
    except AssertionError:
        raise FormatOptionsError(_explain(article, platform, options)) from None


def _explain(article: Any, platform: Any, options: Any) -> str:
    if isinstance(platform, str):
        from bot.platforms import get_platform

        platform = get_platform(platform)
    words = article.body.split()
    longest = max(words, key=platform.length) if words else ""
    numbering = getattr(options, "numbering", "suffix") if options is not None else "suffix"
    parts = [f"the longest word ({platform.length(longest)} characters)"]
    if numbering in ("suffix", "prefix"):
        parts.insert(0, "the numbering (e.g. ' 10/12')")
    if article.url and getattr(options, "link", "last") != "none":
        parts.append("the link")
    where = article.path or "article"
    return (f"{where}: limit {platform.limit} is too small for this article on {platform.name}: "
            f"{', '.join(parts[:-1])} and {parts[-1]} do not fit in one post; use a larger --limit"
            if len(parts) > 1 else f"{where}: limit {platform.limit} is too small for {parts[0]} on {platform.name}")
