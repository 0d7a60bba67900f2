"""twitter-text's own conformance cases, run against bot.platforms (X counting and URL extraction)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.platforms import get_platform
from bot.platforms.urls import extract_urls
from bot.platforms.x import V2, V3, WeightConfig, WeightedCounter

DATA = Path(__file__).resolve().parent.parent / "data" / "twitter-text"


def _load(name: str) -> dict[str, list[dict[str, Any]]]:
    with open(DATA / name, encoding="utf-8") as f:
        return yaml.safe_load(f)["tests"]


VALIDATE = _load("validate.yml")
EXTRACT = _load("extract.yml")
TLDS = _load("tlds.yml")


def _cases(suite: dict[str, list[dict[str, Any]]], *sections: str) -> list[Any]:
    return [
        pytest.param(case, id=f"{section}: {case['description'][:70]}")
        for section in sections
        for case in suite[section]
    ]


def test_v3_config_is_the_one_we_use() -> None:
    config = json.loads((DATA / "v3.json").read_text(encoding="utf-8"))
    assert config["maxWeightedTweetLength"] == V3.max_weighted_length
    assert config["scale"] == V3.scale
    assert config["defaultWeight"] == V3.default_weight
    assert config["transformedURLLength"] == V3.transformed_url_length
    assert config["emojiParsingEnabled"] is V3.emoji_parsing
    assert [(r["start"], r["end"], r["weight"]) for r in config["ranges"]] == list(V3.ranges)


# Upstream runners use config v2 (no emoji parsing) for WeightedTweetsCounterTest and v3 for the others.
@pytest.mark.parametrize("case", _cases(VALIDATE, "WeightedTweetsCounterTest"))
def test_weighted_length_v2(case: dict[str, Any]) -> None:
    expected = case["expected"]
    assert WeightedCounter(V2).parse(case["text"]) == (expected["weightedLength"], expected["valid"])


@pytest.mark.parametrize(
    "case",
    _cases(VALIDATE, "WeightedTweetsWithDiscountedEmojiCounterTest", "UnicodeDirectionalMarkerCounterTest"),
)
def test_weighted_length_v3(case: dict[str, Any]) -> None:
    expected = case["expected"]
    assert WeightedCounter(V3).parse(case["text"]) == (expected["weightedLength"], expected["valid"])
    assert get_platform("x").length(case["text"]) == expected["weightedLength"]


# The `tweets` section is the legacy (v1) validity: 140 code points, every URL 23.
V1 = WeightConfig(max_weighted_length=140, default_weight=100, ranges=(), emoji_parsing=False)


@pytest.mark.parametrize("case", _cases(VALIDATE, "tweets"))
def test_tweet_validity_v1(case: dict[str, Any]) -> None:
    assert WeightedCounter(V1).parse(case["text"])[1] is case["expected"]


@pytest.mark.parametrize("case", _cases(VALIDATE, "hashtags"))
def test_hashtag_validity(case: dict[str, Any]) -> None:
    assert get_platform("x").hashtag_valid(case["text"].removeprefix("#")) is case["expected"]


@pytest.mark.parametrize("case", _cases(EXTRACT, "urls", "tco_urls_with_params"))
def test_extract_urls(case: dict[str, Any]) -> None:
    assert [url for _, _, url in extract_urls(case["text"])] == (case["expected"] or [])


@pytest.mark.parametrize(
    "case", _cases(EXTRACT, "urls_with_indices", "urls_with_directional_markers")
)
def test_extract_urls_with_indices(case: dict[str, Any]) -> None:
    got = [{"url": url, "indices": [start, end]} for start, end, url in extract_urls(case["text"])]
    assert got == case["expected"]
    for start, end, url in extract_urls(case["text"]):
        assert case["text"][start:end] == url


@pytest.mark.parametrize("case", _cases(TLDS, "country", "generic"))
def test_every_tld(case: dict[str, Any]) -> None:
    assert [url for _, _, url in extract_urls(case["text"])] == case["expected"]
