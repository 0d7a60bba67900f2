"""Hashtag candidates: CamelCase keywords, dedupe, ranking, inline matching."""

from __future__ import annotations

from bot.article import Article
from bot.hashtags import camel_case, candidates, find_inline, fold, rank, tag_words
from bot.platforms import get_platform


def test_camel_case() -> None:
    assert camel_case("Guerre Ukraine") == "GuerreUkraine"
    assert camel_case("Cessez-le-feu") == "CessezLeFeu"
    assert camel_case("Négociations paix") == "NégociationsPaix"
    assert camel_case("l’OTAN") == "LOTAN"
    assert camel_case("Traité de paix") == "TraitéDePaix"


def test_tag_words() -> None:
    assert tag_words("GuerreUkraine") == ("guerre", "ukraine")
    assert tag_words("USA") == ("usa",)
    assert tag_words("COVID19") == ("covid", "19")
    assert tag_words("ActualiteInternationale") == ("actualite", "internationale")


def test_fold() -> None:
    assert fold("Négociations") == fold("NEGOCIATIONS") == "negociations"


def test_dedupe_keeps_hashtag_line_spelling() -> None:
    art = Article(
        paragraphs=("x",),
        hashtags=("NegociationsPaix", "Europe"),
        keywords=("Négociations paix", "Istanbul", "europe"),
    )
    cands, dropped = candidates(art)
    assert [c.tag for c in cands] == ["NegociationsPaix", "Europe", "Istanbul"]
    assert dropped == [("NégociationsPaix", "duplicate of #NegociationsPaix"), ("Europe", "duplicate of #Europe")] or dropped == [
        ("NégociationsPaix", "duplicate of #NegociationsPaix")
    ]


def test_rank_by_relevance_then_order() -> None:
    art = Article(paragraphs=("x",), hashtags=("Absent", "Istanbul", "GuerreUkraine"), keywords=("Zone tampon",))
    cands, _ = candidates(art)
    body = "La guerre en Ukraine ; négociations à Istanbul près de la zone tampon."
    assert [c.tag for c in rank(cands, body)] == ["Istanbul", "GuerreUkraine", "ZoneTampon", "Absent"]


def _inline(text: str, tag: str, platform: str, keyword: str | None = None) -> str | None:
    art = Article(paragraphs=("x",), hashtags=() if keyword else (tag,), keywords=(keyword,) if keyword else ())
    (cand,), _ = candidates(art)
    span = find_inline(text, cand, get_platform(platform), [])
    return None if span is None else text[span[0] : span[1]]


def test_inline_whole_words_case_accent_insensitive() -> None:
    assert _inline("à istanbul, hier", "Istanbul", "x") == "istanbul"
    assert _inline("Istanbuls", "Istanbul", "x") is None
    assert _inline("les negociations de paix", "NégociationsPaix", "x") is None  # exact sequence only
    assert _inline("la zone tampon russe", "ZoneTampon", "mastodon", keyword="Zone tampon") == "zone tampon"
    assert _inline("un cessez-le-feu immédiat", "CessezLeFeu", "mastodon", keyword="Cessez-le-feu") == "cessez-le-feu"


def test_inline_respects_platform_recognition() -> None:
    assert _inline("adhésion à l’OTAN", "OTAN", "mastodon") is None
    assert _inline("voir https://otan.int/OTAN et @OTAN", "OTAN", "x") is None
