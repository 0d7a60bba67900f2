"""Property tests: any mix of scripts, emoji, URLs and long tokens packs into fitting posts."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.article import Article
from bot.formatter import FormatOptions, HashtagBudget, format_thread
from bot.platforms import get_platform

WORDS = st.sampled_from(
    [
        "le", "chat", "négociations", "Über", "straße", "Ελλάδα", "Москва", "وقف", "naïve",
        "1,2", "%", "$2.1", "billion", "49.3", "M.", "Dr.", "a.m.", "p.", "ex.", "«", "»", "“quoted”",
        "fin.", "vraiment ?", "oui !", "—", ";", "virgule,", "you’re", "e\u0301te\u0301",
        "中文句子。", "日本語の文です。", "한국어", "这是一个很长的中文句子，没有空格也要能切分。",
        "👍", "👍🏽", "👩‍👩‍👧‍👦", "🇫🇷", "🏳️‍🌈", "🐦‍🔥", "1️⃣", "❤️",
        "https://example.com/a/very/long/path?q=1", "www.example.org", "README.md", "exemple.fr",
        "@alice", "@bob@mastodon.social", "#tag", "#ÉtéIndien",
    ]
)
LONG = st.text(alphabet=st.sampled_from("abcdéXYZ0123漢字👍🏽-_/"), min_size=200, max_size=700)
TOKEN = st.one_of(WORDS, WORDS, WORDS, WORDS, LONG)
SEP = st.sampled_from([" ", " ", " ", " ", "  ", "\n"])


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, ...]:
    paragraphs = []
    for _ in range(draw(st.integers(1, 4))):
        tokens = draw(st.lists(TOKEN, min_size=1, max_size=90))
        seps = draw(st.lists(SEP, min_size=len(tokens), max_size=len(tokens)))
        paragraphs.append("".join(t + s for t, s in zip(tokens, seps)).strip())
    return tuple(paragraphs)


NUMBERING = re.compile(r"( \d+/\d+$|^\d+/\d+ | 🧵$)")
PLATFORMS = {name: get_platform(name) for name in ("x", "mastodon", "bluesky")}
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("name", sorted(PLATFORMS))
@SETTINGS
@given(
    paragraphs=bodies(),
    numbering=st.sampled_from(["suffix", "prefix", "thread", "none"]),
    cut=st.sampled_from(["readable", "compact"]),
)
def test_posts_fit_and_give_back_the_body(name: str, paragraphs: tuple[str, ...], numbering: str, cut: str) -> None:
    plat = PLATFORMS[name]
    art = Article(paragraphs=paragraphs)
    opts = FormatOptions(numbering=numbering, link="none", hashtags=HashtagBudget(max_tags=0), cut=cut)  # type: ignore[arg-type]
    thread = format_thread(art, plat, opts)
    assert thread.posts
    for post in thread.posts:
        assert post.text.strip(), "empty post"
        assert plat.fits(post.text)
    # Breaks only drop whitespace: without numbering, the posts are the body's text in order.
    bodies_ = [NUMBERING.sub("", p.text) for p in thread.posts]
    assert squash("".join(bodies_)) == squash(art.body)
    assert format_thread(art, plat, opts) == thread


@pytest.mark.parametrize("name", sorted(PLATFORMS))
@SETTINGS
@given(
    paragraphs=bodies(),
    tags=st.lists(st.sampled_from(["chat", "Ukraine", "Paix", "49.3", "ÉtéIndien", "Москва", "中文"]), max_size=5),
    keywords=st.lists(st.sampled_from(["Le chat", "Cessez-le-feu", "you’re", "Zone tampon"]), max_size=3),
    placement=st.sampled_from(["inline", "end", "start", "spread", "inline+end"]),
    max_tags=st.integers(0, 6),
    link=st.sampled_from(["first", "last", "none"]),
    max_posts=st.one_of(st.none(), st.integers(1, 4)),
)
def test_with_tags_link_and_max_posts(
    name: str,
    paragraphs: tuple[str, ...],
    tags: list[str],
    keywords: list[str],
    placement: str,
    max_tags: int,
    link: str,
    max_posts: int | None,
) -> None:
    plat = PLATFORMS[name]
    url = "https://example.com/articles/2025/un-titre-assez-long-pour-compter"
    art = Article(paragraphs=paragraphs, hashtags=tuple(tags), keywords=tuple(keywords), url=url, cw="cw" if name == "mastodon" else None)
    plain = format_thread(art, plat, FormatOptions(link=link, max_posts=max_posts, hashtags=HashtagBudget(max_tags=0)))  # type: ignore[arg-type]
    opts = FormatOptions(link=link, max_posts=max_posts, hashtags=HashtagBudget(max_tags=max_tags, placement=placement))  # type: ignore[arg-type]
    thread = format_thread(art, plat, opts)
    for post in thread.posts:
        assert post.text.strip()
        assert plat.fits(post.text)
        assert post.length == plat.length(post.text) + (plat.cw_length("cw") if name == "mastodon" else 0)
    assert len(thread.posts) <= len(plain.posts)  # tags never add a post
    if max_posts is not None:
        assert len(thread.posts) <= max_posts
    if link != "none":
        assert sum(url in p.text for p in thread.posts) == 1
    assert len(thread.hashtags_used) <= max_tags
    assert format_thread(art, plat, opts) == thread
