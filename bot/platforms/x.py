"""X (Twitter): the twitter-text v3 weighted length, hashtag rules and the `x` profile."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import regex

from bot.platforms import emoji_seq
from bot.platforms.base import Platform
from bot.platforms.urls import extract_urls


@dataclass(frozen=True)
class WeightConfig:
    """A twitter-text weighting configuration (config/v3.json by default)."""

    max_weighted_length: int = 280
    scale: int = 100
    default_weight: int = 200
    ranges: tuple[tuple[int, int, int], ...] = (
        (0, 4351, 100),
        (8192, 8205, 100),
        (8208, 8223, 100),
        (8242, 8247, 100),
    )
    transformed_url_length: int = 23
    emoji_parsing: bool = True


V3 = WeightConfig()
V2 = WeightConfig(emoji_parsing=False)  # v2.json: v3 without emoji parsing

_INVALID_CHARS = re.compile("[\ufffe\ufeff\uffff]")


class WeightedCounter:
    """Counts text exactly as twitter-text's `parseTweet` does, for one configuration.

    Fast: one C-level pass to find code points outside the weight ranges, and the URL and emoji
    passes only when the text could hold a URL ('.') or an emoji sequence.
    """

    def __init__(self, config: WeightConfig = V3) -> None:
        self.config = config
        # Weights other than the default, as a character class per weight.
        self._classes: list[tuple[re.Pattern[str], int]] = []
        by_weight: dict[int, list[str]] = {}
        for start, end, weight in config.ranges:
            if weight != config.default_weight:
                by_weight.setdefault(weight, []).append(
                    f"{re.escape(chr(start))}-{re.escape(chr(end))}"
                )
        for weight, parts in by_weight.items():
            self._classes.append((re.compile(f"[{''.join(parts)}]"), weight))
        self._single_light = (
            len(self._classes) == 1 and self._classes[0][1] * 2 == config.default_weight
        )
        if self._single_light:
            # Text made only of weight-100 code points (French prose, say) is the common case.
            cls = self._classes[0][0].pattern
            self._heavy = re.compile(f"[^{cls[1:-1]}]")

    def _raw(self, text: str) -> int:
        """Scaled weight of `text` code point by code point (no URLs, no emoji)."""
        total = len(text) * self.config.default_weight
        if self._single_light:
            # Count the (few) heavy code points rather than the (many) light ones.
            light = self._classes[0][1]
            heavy = len(self._heavy.findall(text))
            return len(text) * light + heavy * (self.config.default_weight - light)
        for pattern, weight in self._classes:
            total += (weight - self.config.default_weight) * (len(text) - len(pattern.sub("", text)))
        return total

    def scaled(self, text: str) -> int:
        """The weighted length times the scale (exact integer); `text` must be NFC already."""
        cfg = self.config
        total = self._raw(text)
        url_spans: list[tuple[int, int]] = []
        if "." in text:
            for start, end, _url in extract_urls(text):
                total += cfg.transformed_url_length * cfg.scale - self._raw(text[start:end])
                url_spans.append((start, end))
        if cfg.emoji_parsing:
            for start, end, known in emoji_seq.sequences(text):
                if url_spans and any(s <= start < e for s, e in url_spans):
                    continue  # a URL starting earlier swallows it, as in parseTweet
                seq = text[start:end]
                if known:
                    total += cfg.default_weight - self._raw(seq)
                else:
                    for s, e in emoji_seq.parts(seq):
                        total += cfg.default_weight - self._raw(seq[s:e])
        return total

    def parse(self, text: str) -> tuple[int, bool]:
        """`(weighted_length, valid)` as twitter-text's parseTweet reports them."""
        text = nfc(text)
        scaled = self.scaled(text)
        length = scaled // self.config.scale
        valid = (
            scaled > 0
            and length <= self.config.max_weighted_length
            and _INVALID_CHARS.search(text) is None
        )
        return length, valid

    def length(self, text: str) -> int:
        """The weighted length of `text` (NFC-normalised first)."""
        return self.scaled(nfc(text)) // self.config.scale


def nfc(text: str) -> str:
    """NFC form of `text`, skipping the copy when it is already normalised."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


# twitter-text's hashtag characters (Regex.java HASHTAG_LETTERS_AND_MARKS etc.). The extra
# code points it lists on top of \p{L}\p{M} and \p{Nd} are letters, marks and digits in the
# Unicode data Python ships, so the properties cover them.
_HASHTAG_SPECIAL = (
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)
_HASHTAG_ALNUM = f"[\\p{{L}}\\p{{M}}\\p{{Nd}}{_HASHTAG_SPECIAL}]"
_HASHTAG_NAME = regex.compile(f"{_HASHTAG_ALNUM}*[\\p{{L}}\\p{{M}}]{_HASHTAG_ALNUM}*")
_HASHTAG_ALNUM_CHAR = regex.compile(_HASHTAG_ALNUM)


class X(Platform):
    """X: twitter-text v3 weighted length; 280 (or a Premium limit); every URL counts 23."""

    name = "x"
    default_limit = 280
    url_length = 23

    def __init__(self, limit: int | None = None) -> None:
        super().__init__(limit)
        self._counter = WeightedCounter(V3)

    def length(self, text: str) -> int:
        return self._counter.length(text)

    def hashtag_valid(self, tag: str) -> bool:
        # isValidHashtag: "#tag" must extract to exactly "tag"; the match must not run into
        # a second '#' or "://" (twitter-text's end-of-hashtag rule), which a full match ensures.
        if not tag or tag[0] in "\ufe0f\u20e3":  # "#\ufe0f" / "#\u20e3" are keycap emoji
            return False
        return _HASHTAG_NAME.fullmatch(tag) is not None

    def hashtag_recognised_at(self, text: str, index: int) -> bool:
        # twitter-text's hashtag boundary: start of text, a variation selector, or any
        # code point that is neither a hashtag letter/digit nor '&'. So "l’#OTAN" links.
        if index <= 0:
            return True
        before = text[index - 1]
        if before in "\ufe0e\ufe0f":
            return True
        return before != "&" and _HASHTAG_ALNUM_CHAR.match(before) is None
