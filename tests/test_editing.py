"""The edit rules of bot.editing: counted by the platform counters, renumbered, refused with the count."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from bot.article import load_article
from bot.editing import (
    EditRefused,
    add_hashtag,
    count_post,
    drop_hashtag,
    join_posts,
    prepare_edit,
    thread_counts,
)
from bot.formatter import default_options, format_thread
from bot.platforms import get_platform

ARTICLES = ["config/articles/en-harbour-wind-port.txt", "config/articles/fr-budget-49-3.txt"]


def _item(platform: str, texts: list[str], *, numbering: str = "suffix", posted: int = 0, **options: object):
    posts = [
        SimpleNamespace(index=i, text=t, state="posted" if i <= posted else "pending")
        for i, t in enumerate(texts, 1)
    ]
    return SimpleNamespace(platform=platform, options={"profile": platform, "numbering": numbering, **options},
                           posts=posts)


def _formatted(path: str, platform: str, numbering: str = "suffix"):
    article = load_article(path)
    thread = format_thread(article, get_platform(platform), replace(default_options(platform), numbering=numbering))
    return _item(platform, [p.text for p in thread.posts], numbering=numbering, cw=article.cw), thread


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky"])
@pytest.mark.parametrize("numbering", ["suffix", "prefix", "thread", "none"])
@pytest.mark.parametrize("path", ARTICLES)
def test_an_unchanged_edit_gives_back_the_formatter_s_text(path: str, platform: str, numbering: str) -> None:
    item, thread = _formatted(path, platform, numbering)
    assert prepare_edit(item, [None] * len(item.posts)) == [p.text for p in thread.posts]


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky"])
def test_counts_are_the_formatter_s_counts(platform: str) -> None:
    item, thread = _formatted(ARTICLES[0], platform)
    assert [c.length for c in thread_counts(item)] == [p.length for p in thread.posts]


def test_a_post_made_too_long_is_refused_with_its_count() -> None:
    item = _item("x", ["First post. 1/2", "Second post. 2/2"])
    with pytest.raises(EditRefused) as refused:
        prepare_edit(item, ["A" * 300 + " 1/2", None])
    assert "post 1 is 304/280 characters on x (24 over)" in str(refused.value)


def test_x_counts_a_link_as_23_and_cjk_as_two() -> None:
    x = get_platform("x")
    assert count_post(x, "see https://example.org/" + "a" * 100).length == 4 + 23
    assert count_post(x, "日本").length == 4


def test_mastodon_counts_the_content_warning() -> None:
    mastodon = get_platform("mastodon")
    assert count_post(mastodon, "hello", "war").length == 8


def test_split_renumbers_the_whole_thread() -> None:
    item = _item("x", ["One. Two. 1/2", "Three. 2/2"])
    assert prepare_edit(item, ["One.\n---\nTwo. 1/2", None]) == ["One. 1/3", "Two. 2/3", "Three. 3/3"]


def test_join_renumbers_and_merges_hashtag_lines() -> None:
    item = _item("x", ["One. 1/3", "Two. 2/3\n\n#A", "Three. 3/3\n\n#B\n\nhttps://example.org/a"])
    assert join_posts(item, 2) == ["One. 1/2", "Two. Three. 2/2\n\n#A #B\n\nhttps://example.org/a"]


def test_join_refused_when_the_result_does_not_fit() -> None:
    item = _item("x", ["A" * 200 + " 1/2", "B" * 200 + " 2/2"])
    with pytest.raises(EditRefused, match=r"post 1 is 401/280 characters"):
        join_posts(item, 1)


def test_prefix_numbering_is_renumbered_in_front() -> None:
    item = _item("mastodon", ["1/2 One.", "2/2 Two."], numbering="prefix")
    assert prepare_edit(item, [None, "Two.\n---\nThree."]) == ["1/3 One.", "2/3 Two.", "3/3 Three."]


def test_partly_published_thread_takes_text_changes_only() -> None:
    item = _item("x", ["One. 1/3", "Two. 2/3", "Three. 3/3"], posted=1)
    assert prepare_edit(item, ["ignored: posted", "Deux. 2/3", None]) == ["One. 1/3", "Deux. 2/3", "Three. 3/3"]
    with pytest.raises(EditRefused, match="partly published"):
        prepare_edit(item, [None, "Two.\n---\nMore.", None])
    with pytest.raises(EditRefused, match="partly published"):
        join_posts(item, 2)


def test_drop_hashtag_from_the_tag_line_and_inline() -> None:
    item = _item("x", ["Grain from #Ukraine ships. 1/2", "More. 2/2\n\n#Ukraine #Grain"])
    assert drop_hashtag(item, "#ukraine") == ["Grain from Ukraine ships. 1/2", "More. 2/2\n\n#Grain"]
    with pytest.raises(EditRefused, match="not in the unpublished posts"):
        drop_hashtag(item, "Nope")


def test_add_hashtag_goes_before_the_link_and_is_counted() -> None:
    item = _item("x", ["One. 1/2", "Two. 2/2\n\nhttps://example.org/a"])
    assert add_hashtag(item, "Port") == ["One. 1/2", "Two. 2/2\n\n#Port\n\nhttps://example.org/a"]
    full = _item("x", ["A" * 278])
    with pytest.raises(EditRefused, match="283/280"):
        add_hashtag(full, "Ab")
    with pytest.raises(EditRefused, match="not a hashtag"):
        add_hashtag(item, "two words")
