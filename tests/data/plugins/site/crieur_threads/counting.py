"""How "Threads" counts: grapheme clusters, a link costs 30 whatever its length, 400 a post."""

from __future__ import annotations

import re

from bot.platforms.base import Platform, graphemes

_URL = re.compile(r"https?://\S+")
LINK_COST = 30


class ThreadsCount(Platform):
    name = "threads"
    default_limit = 400

    def length(self, text: str) -> int:
        links = _URL.findall(text)
        return graphemes(_URL.sub("", text)) + LINK_COST * len(links)

    def hashtag_valid(self, tag: str) -> bool:
        return bool(tag) and tag.replace("_", "").isalnum() and not tag.isdigit()
