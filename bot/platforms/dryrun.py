"""The dry-run profile: plain grapheme counting, for trying the formatter without a platform."""

from __future__ import annotations

from bot.platforms.mastodon import Mastodon
from bot.platforms.base import Platform, graphemes


class DryRun(Platform):
    """Dry run: 500 grapheme clusters, every character counted as written (no URL cost rule,
    no link shortening); hashtags follow Mastodon's rules (start of text or after whitespace)."""

    name = "dryrun"
    default_limit = 500

    def length(self, text: str) -> int:
        return graphemes(text)

    def hashtag_valid(self, tag: str) -> bool:
        return Mastodon.hashtag_valid(self, tag)  # type: ignore[arg-type]
