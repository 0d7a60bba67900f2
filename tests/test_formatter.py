"""The slicer: limits, breaks, numbering, link, max_posts, hashtag budgets."""

from __future__ import annotations

import re

import pytest

from bot.article import Article
from bot.formatter import (
    FormatOptions,
    HashtagBudget,
    Thread,
    default_options,
    format_thread,
)
from bot.platforms import get_platform

NO_TAGS = HashtagBudget(max_tags=0)
PLAIN = FormatOptions(link="none", hashtags=NO_TAGS)
COMPACT_PLAIN = FormatOptions(link="none", hashtags=NO_TAGS, cut="compact")

SENTENCES = [
    "Après l’appel téléphonique du 20 mai, les négociations ont repris à Istanbul.",
    "M. Dupont a salué des « progrès accomplis » et une discussion très utile.",
    "Le taux de croissance atteint 1,2 % cette année, selon l’Insee.",
    "The deal is worth $2.1 billion, according to Dr. Smith at 5 a.m. on Monday.",
    "Le gouvernement a utilisé l’article 49.3 pour faire adopter le budget.",
    "Pour l’instant, aucune percée n’est en vue ; les voisins redoutent une escalade.",
]


def article(text: str, **kw: object) -> Article:
    paragraphs = tuple(p for p in text.split("\n\n") if p.strip())
    return Article(paragraphs=paragraphs, **kw)  # type: ignore[arg-type]


def long_text(n: int = 40) -> str:
    return " ".join(SENTENCES[i % len(SENTENCES)] for i in range(n))


def strip_numbering(text: str) -> str:
    return re.sub(r"( \d+/\d+$|^\d+/\d+ )", "", text)


def body_words(thread: Thread) -> list[str]:
    return [w for p in thread.posts for w in strip_numbering(p.text).split()]


@pytest.mark.parametrize("name", ["x", "mastodon", "bluesky"])
def test_every_post_fits_and_words_in_order(name: str) -> None:
    plat = get_platform(name)
    art = article(long_text())
    thread = format_thread(art, plat, PLAIN)
    assert len(thread.posts) > 1
    for post in thread.posts:
        assert plat.fits(post.text)
        assert post.length == plat.length(post.text)
    assert body_words(thread) == art.body.split()


def test_one_post_thread_is_unnumbered() -> None:
    thread = format_thread(article("Un seul message court."), "x", PLAIN)
    assert [p.text for p in thread.posts] == ["Un seul message court."]


def test_numbering_width_counts() -> None:
    # Exactly enough text for 10+ posts: the " 10/12" width must be reserved on every post.
    plat = get_platform("x")
    thread = format_thread(article(long_text(50)), plat, PLAIN)
    n = len(thread.posts)
    assert n >= 10
    for i, post in enumerate(thread.posts, 1):
        assert post.text.endswith(f" {i}/{n}")
        assert plat.fits(post.text)


@pytest.mark.parametrize(
    ("style", "check"),
    [
        ("prefix", lambda i, n, t: t.startswith(f"{i}/{n} ")),
        ("thread", lambda i, n, t: t.endswith(" 🧵") == (i == 1)),
        ("none", lambda i, n, t: "/" not in t and "🧵" not in t),
    ],
)
def test_numbering_styles(style: str, check) -> None:  # type: ignore[no-untyped-def]
    thread = format_thread(article(long_text(10)), "x", FormatOptions(numbering=style, link="none", hashtags=NO_TAGS))
    n = len(thread.posts)
    assert n > 1
    assert all(check(p.index, n, p.text) for p in thread.posts)


@pytest.mark.parametrize("where", ["first", "last"])
def test_link(where: str) -> None:
    url = "https://example.com/" + "a" * 120
    plat = get_platform("x")
    thread = format_thread(article(long_text(10), url=url), plat, FormatOptions(link=where, hashtags=NO_TAGS))
    holder = thread.posts[0] if where == "first" else thread.posts[-1]
    assert holder.text.endswith("\n\n" + url)
    assert sum(url in p.text for p in thread.posts) == 1
    assert all(plat.fits(p.text) for p in thread.posts)


def test_link_none_and_missing_url() -> None:
    thread = format_thread(article("Court.", url="https://example.com/x"), "x", FormatOptions(link="none", hashtags=NO_TAGS))
    assert thread.posts[0].text == "Court."
    thread = format_thread(article("Court."), "x", FormatOptions(link="last", hashtags=NO_TAGS))
    assert thread.posts[0].text == "Court."


def test_max_posts_ends_at_sentence_with_ellipsis_then_link() -> None:
    url = "https://example.com/article"
    opts = FormatOptions(max_posts=3, link="last", hashtags=NO_TAGS)
    thread = format_thread(article(long_text(30), url=url), "x", opts)
    assert len(thread.posts) == 3
    last = thread.posts[-1].text
    assert last.endswith("\n\n" + url)
    body = strip_numbering(last.split("\n\n")[0])
    assert body.endswith(". …")


def test_paragraph_break_kept_inside_a_post() -> None:
    thread = format_thread(article("Premier paragraphe.\n\nSecond paragraphe."), "mastodon", PLAIN)
    assert thread.posts[0].text == "Premier paragraphe.\n\nSecond paragraphe."


def test_prefers_paragraph_and_sentence_ends() -> None:
    para = " ".join(SENTENCES[:3])
    text = "\n\n".join([para, para, para])
    thread = format_thread(article(text), "x", PLAIN)
    for post in thread.posts[:-1]:
        assert strip_numbering(post.text).endswith((".", ";"))


def test_no_one_line_last_post() -> None:
    # Just over two posts of text: a greedy cut would leave a few words alone in the last post.
    plat = get_platform("x")
    words = ("mot " * 140).strip()
    thread = format_thread(article(words), plat, PLAIN)
    lengths = [p.length for p in thread.posts]
    assert len(lengths) == 3
    assert min(lengths) > 0.6 * max(lengths)


def test_never_splits_quotes_numbers_abbreviations() -> None:
    plat = get_platform("x")
    thread = format_thread(article(long_text(30)), plat, PLAIN)
    for post in thread.posts:
        text = strip_numbering(post.text)
        assert not text.endswith(("«", "M.", "Dr.", "1,2", "$2.1"))
        assert not text.startswith(("»", "%", "billion", "Dupont", "Smith"))


def test_oversize_token_hard_cut_at_graphemes() -> None:
    plat = get_platform("mastodon")
    token = "👩🏽‍💻" * 300 + "x" * 600
    thread = format_thread(article("Début. " + token + " fin."), plat, PLAIN)
    assert all(plat.fits(p.text) for p in thread.posts)
    joined = "".join(strip_numbering(p.text) for p in thread.posts).replace(" ", "")
    assert joined == ("Début." + token + "fin.")
    # no emoji sequence was cut in half
    assert all(p.text.count("\u200d") == p.text.count("👩🏽‍💻") for p in thread.posts)


def test_cjk_breaks_after_full_stops() -> None:
    plat = get_platform("x")
    text = "".join("这是一个测试句子，用来检查切分。" for _ in range(40))
    thread = format_thread(article(text, lang="zh"), plat, PLAIN)
    assert len(thread.posts) > 1
    assert all(plat.fits(p.text) for p in thread.posts)
    assert all(strip_numbering(p.text).endswith(("。", "，")) for p in thread.posts)
    assert "".join(strip_numbering(p.text) for p in thread.posts) == text


def test_mastodon_content_warning_counts_per_post() -> None:
    plat = get_platform("mastodon")
    cw = "Guerre, violence " * 10
    thread = format_thread(article(long_text(20), cw=cw), plat, PLAIN)
    for post in thread.posts:
        assert post.cw == cw
        assert plat.length(post.text) + plat.cw_length(cw) <= plat.limit
        assert post.length == plat.length(post.text) + plat.cw_length(cw)


def test_deterministic() -> None:
    art = article(long_text(), hashtags=("Istanbul", "Europe"), keywords=("Article 49.3",), url="https://e.com/a")
    for name in ("x", "mastodon", "bluesky"):
        assert format_thread(art, name) == format_thread(art, name)


def test_default_options() -> None:
    assert default_options("x").hashtags.max_tags <= 2  # type: ignore[union-attr]
    assert default_options("mastodon").hashtags.placement == "end"  # type: ignore[union-attr]
    assert default_options("mastodon").hashtags.max_tags > default_options("x").hashtags.max_tags  # type: ignore[union-attr]


# --- hashtags ---------------------------------------------------------------------------------

UKR = (
    "Les négociations entre la Russie et l’Ukraine ont repris à Istanbul. "
    "Moscou refuse toute adhésion de l’Ukraine à l’OTAN. La guerre continue."
)


def test_inline_tag_turns_word_into_hashtag() -> None:
    art = article(UKR, hashtags=("Istanbul",))
    thread = format_thread(art, "x", FormatOptions(link="none", hashtags=HashtagBudget(max_tags=1, placement="inline")))
    assert "à #Istanbul." in thread.posts[0].text
    assert thread.hashtags_used == ("Istanbul",)


def test_mastodon_does_not_tag_after_apostrophe() -> None:
    art = article(UKR, hashtags=("OTAN",))
    opts = FormatOptions(link="none", hashtags=HashtagBudget(max_tags=1, placement="inline"))
    thread = format_thread(art, "mastodon", opts)
    assert "l’OTAN" in thread.posts[0].text and "#OTAN" not in thread.posts[0].text
    assert [(d.tag, d.reason) for d in thread.hashtags_dropped] == [("OTAN", "not in text")]


def test_inline_then_end() -> None:
    art = article(UKR, hashtags=("Istanbul", "Diplomatie"))
    thread = format_thread(art, "mastodon", FormatOptions(link="none", hashtags=HashtagBudget(max_tags=2)))
    text = thread.posts[-1].text
    assert "#Istanbul" in text and text.endswith("\n\n#Diplomatie")
    assert set(thread.hashtags_used) == {"Istanbul", "Diplomatie"}


def test_end_placement_and_over_max_tags() -> None:
    art = article(UKR, hashtags=("Russie", "Ukraine", "OTAN", "Europe"))
    thread = format_thread(art, "mastodon", FormatOptions(link="none", hashtags=HashtagBudget(max_tags=2, placement="end")))
    assert thread.posts[-1].text.endswith("\n\n#Russie #Ukraine")
    assert {(d.tag, d.reason) for d in thread.hashtags_dropped} == {("OTAN", "over max_tags"), ("Europe", "over max_tags")}


def test_start_placement() -> None:
    art = article(long_text(10), hashtags=("Europe",))
    thread = format_thread(art, "x", FormatOptions(link="none", hashtags=HashtagBudget(max_tags=1, placement="start")))
    assert "\n\n#Europe" in thread.posts[0].text
    assert all("#Europe" not in p.text for p in thread.posts[1:])


def test_spread_placement() -> None:
    art = article(long_text(12), hashtags=("Europe", "Monde", "Paix"))
    opts = FormatOptions(link="none", hashtags=HashtagBudget(max_tags=3, max_per_post=1, placement="spread"))
    thread = format_thread(art, "mastodon", opts)
    holders = [p.index for p in thread.posts if "#" in p.text]
    assert len(thread.hashtags_used) + len(thread.hashtags_dropped) == 3
    assert len(holders) == len(thread.hashtags_used)  # one per post
    assert all(get_platform("mastodon").fits(p.text) for p in thread.posts)


def test_invalid_and_duplicate_tags() -> None:
    art = article(UKR, hashtags=("NegociationsPaix", "2025"), keywords=("Négociations paix", "Article 49.3", "Guerre Ukraine"))
    thread = format_thread(art, "x", FormatOptions(link="none", hashtags=HashtagBudget(max_tags=5, placement="end")))
    reasons = {d.tag: d.reason for d in thread.hashtags_dropped}
    assert reasons["NégociationsPaix"] == "duplicate of #NegociationsPaix"
    assert reasons["2025"] == "invalid on x"
    assert reasons["Article49.3"] == "invalid on x"
    assert "GuerreUkraine" in thread.hashtags_used


def test_tags_never_add_a_post() -> None:
    plat = get_platform("x")
    base = format_thread(article(long_text(8)), plat, PLAIN)
    tags = tuple(f"Etiquette{i}Longue" for i in range(20))  # far more than one post of tags
    opts = FormatOptions(link="none", hashtags=HashtagBudget(max_tags=20, placement="end"))
    thread = format_thread(article(long_text(8), hashtags=tags), plat, opts)
    assert len(thread.posts) == len(base.posts)
    assert thread.hashtags_used
    assert {d.reason for d in thread.hashtags_dropped} == {"no room"}
    assert all(plat.fits(p.text) for p in thread.posts)


def test_max_chars_and_max_per_post() -> None:
    art = article(UKR, hashtags=("Russie", "Ukraine", "Europe"))
    opts = FormatOptions(link="none", hashtags=HashtagBudget(max_tags=3, max_chars=10, placement="end"))
    thread = format_thread(art, "mastodon", opts)
    assert thread.hashtags_used == ("Russie",)
    assert {d.reason for d in thread.hashtags_dropped} == {"over max_chars"}
    opts = FormatOptions(link="none", hashtags=HashtagBudget(max_tags=3, max_per_post=1, placement="end"))
    thread = format_thread(art, "mastodon", opts)
    assert thread.hashtags_used == ("Russie",)
    assert {d.reason for d in thread.hashtags_dropped} == {"over max_per_post"}


def test_platform_name_or_object() -> None:
    art = article("Bonjour.")
    assert format_thread(art, "bluesky") == format_thread(art, get_platform("bluesky"))


# With `cut: compact`, a thread whose posts are all nearly full: no room at the end for long tags, but the body
# holds "Istanbul", "Zelensky" and "OTAN", which cost one character each to turn into tags.
FULL_SENTENCES = [
    "Les négociations ont repris à Istanbul sous l’égide de la Turquie, sans percée sur le front.",
    "Le président Zelensky réclame des garanties de sécurité avant toute discussion sur les territoires.",
    "À Moscou, le Kremlin parle d’un dialogue utile mais refuse tout cessez-le-feu sans conditions.",
    "Les alliés de l’OTAN promettent une aide militaire accrue tandis que l’Europe durcit ses sanctions.",
    "La guerre en Ukraine entre dans sa quatrième année et la Russie revendique des gains à l’est.",
    "Washington laisse entendre qu’il pourrait se retirer du processus si rien ne bouge d’ici l’été.",
]
FULL_BODY = " ".join(FULL_SENTENCES[i % len(FULL_SENTENCES)] for i in range(28))
LONG_TAGS = (
    "GuerreUkraineRussieNegociationsTurquieSanctionsEurope",
    "RussieUkraineGuerreSanctionsEuropeNegociationsTurquie",
)


def _full_article() -> Article:
    return article(FULL_BODY, hashtags=LONG_TAGS + ("Istanbul", "Zelensky", "OTAN"))


def test_tags_without_room_free_their_max_tags_place() -> None:
    plat = get_platform("x")
    base = format_thread(article(FULL_BODY), plat, COMPACT_PLAIN)
    art = _full_article()
    # The premise: the long tags rank first (all their words are in the body, hashtag line first)
    # and do not fit at the end of the thread.
    only_end = format_thread(art, plat, FormatOptions(link="none", cut="compact", hashtags=HashtagBudget(max_tags=2, placement="end")))
    assert {d.tag: d.reason for d in only_end.hashtags_dropped}[LONG_TAGS[0]] == "no room"

    thread = format_thread(art, plat, FormatOptions(link="none", cut="compact", hashtags=HashtagBudget(max_tags=2)))
    reasons = {d.tag: d.reason for d in thread.hashtags_dropped}
    assert reasons[LONG_TAGS[0]] == reasons[LONG_TAGS[1]] == "no room"
    assert thread.hashtags_used == ("Istanbul", "Zelensky")  # the next candidates, best first
    assert reasons["OTAN"] == "over max_tags"  # max_tags still holds
    texts = [p.text for p in thread.posts]
    assert all("\n\n#" not in t for t in texts)  # inline, not in an end block
    assert sum(t.count("#Istanbul") for t in texts) == 1 and sum(t.count("#Zelensky") for t in texts) == 1
    assert any("à #Istanbul sous" in t for t in texts)
    assert len(thread.posts) == len(base.posts)  # tags never add a post
    assert all(plat.fits(t) for t in texts)


def test_dropped_tags_free_places_up_to_max_tags() -> None:
    art = _full_article()
    thread = format_thread(art, "x", FormatOptions(link="none", cut="compact", hashtags=HashtagBudget(max_tags=3)))
    assert thread.hashtags_used == ("Istanbul", "Zelensky", "OTAN")
    assert {d.tag: d.reason for d in thread.hashtags_dropped} == {t: "no room" for t in LONG_TAGS}
    thread = format_thread(art, "x", FormatOptions(link="none", cut="compact", hashtags=HashtagBudget(max_tags=1)))
    assert thread.hashtags_used == ("Istanbul",)
    assert {d.tag: d.reason for d in thread.hashtags_dropped} == {
        LONG_TAGS[0]: "no room",
        LONG_TAGS[1]: "no room",
        "Zelensky": "over max_tags",
        "OTAN": "over max_tags",
    }


def test_end_tag_without_room_frees_its_place_for_a_shorter_one() -> None:
    art = _full_article()
    opts = FormatOptions(link="none", cut="compact", hashtags=HashtagBudget(max_tags=2, placement="end"))
    thread = format_thread(art, "x", opts)
    assert thread.hashtags_used == ("Istanbul", "Zelensky")
    assert thread.posts[-1].text.endswith("\n\n#Istanbul #Zelensky")
    assert {d.tag: d.reason for d in thread.hashtags_dropped}["OTAN"] == "over max_tags"
