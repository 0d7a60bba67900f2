"""Properties of the cut over generated prose: fits, order, fewest posts (compact), never more than greedy (readable).

The oracles are written here, on rendered text, independently of the formatter's packers: the
greedy sentence packer is the benchmark's (benchmarks/cuts.py), and the fewest posts come from
an exhaustive search over the segmenter's legal breaks.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.article import Article
from bot.formatter import FormatOptions, HashtagBudget, default_options, format_thread
from bot.platforms import Platform, get_platform
from bot.segment import Break, Piece, pieces

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("cuts_benchmark", ROOT / "benchmarks" / "cuts.py")
assert _spec and _spec.loader
cuts = importlib.util.module_from_spec(_spec)
sys.modules["cuts_benchmark"] = cuts
_spec.loader.exec_module(cuts)

PLATFORMS = {name: get_platform(name) for name in ("x", "mastodon", "bluesky")}
SMALL = {"x": get_platform("x", limit=120), "mastodon": get_platform("mastodon", limit=140),
         "bluesky": get_platform("bluesky", limit=130)}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = {
    "fr": "le gouvernement a présenté un budget de 49 milliards pour la défense et les écoles du pays "
    "selon le ministre qui parle d’une réforme très attendue par les syndicats".split(),
    "en": "the council approved a plan on Tuesday to turn the old terminal into a base for wind "
    "turbines after two years of hearings that split the town".split(),
    "de": "der Stadtrat hat am Donnerstag den Haushalt mit Investitionen von 612 Mio. Euro für Schulen "
    "und den Nahverkehr beschlossen".split(),
}


@st.composite
def sentences(draw: st.DrawFn, lang: str) -> str:
    words = draw(st.lists(st.sampled_from(WORDS[lang]), min_size=3, max_size=45))
    out = []
    for k, word in enumerate(words):
        out.append(word)
        if k < len(words) - 1 and draw(st.integers(0, 9)) == 0:
            out[-1] += draw(st.sampled_from([",", ";", " :", " —"]))
    text = " ".join(out)
    if draw(st.integers(0, 6)) == 0:
        quote = " ".join(draw(st.lists(st.sampled_from(WORDS[lang]), min_size=2, max_size=8)))
        text += f", « {quote} »" if lang == "fr" else (f", „{quote}“" if lang == "de" else f', "{quote}"')
    return text[0].upper() + text[1:] + draw(st.sampled_from([".", ".", ".", " ?" if lang == "fr" else "?", "!"]))


@st.composite
def articles(draw: st.DrawFn) -> Article:
    lang = draw(st.sampled_from(sorted(WORDS)))
    paragraphs = tuple(
        " ".join(draw(st.lists(sentences(lang), min_size=1, max_size=5))) for _ in range(draw(st.integers(1, 4)))
    )
    return Article(paragraphs=paragraphs, lang=lang)


_LABEL = re.compile(r" \d+/\d+$")


def body_words(thread_texts: list[str]) -> list[str]:
    return [w for t in thread_texts for w in _LABEL.sub("", t).split()]


@pytest.mark.parametrize("name", sorted(PLATFORMS))
@SETTINGS
@given(art=articles(), small=st.booleans())
def test_readable_fits_keeps_words_in_order_and_never_uses_more_posts_than_greedy(
    name: str, art: Article, small: bool
) -> None:
    plat = (SMALL if small else PLATFORMS)[name]
    opts = replace(default_options(name), hashtags=HashtagBudget(max_tags=0))
    thread = format_thread(art, plat, opts)
    for post in thread.posts:
        assert plat.fits(post.text) and post.length == plat.length(post.text)
    assert body_words([p.text for p in thread.posts]) == art.body.split()
    greedy_breaks = cuts.greedy(art, plat)
    assert len(thread.posts) <= len(greedy_breaks) + 1
    compact = format_thread(art, plat, replace(opts, cut="compact"))
    assert len(compact.posts) <= len(thread.posts)
    assert len(thread.breaks) == len(thread.posts) - 1


def _words(art: Article) -> list[Piece]:
    out: list[Piece] = []
    for p in pieces(art.body.strip(), art.lang):
        if out and out[-1].brk == Break.NONE:
            prev = out.pop()
            p = Piece(prev.text + prev.sep + p.text, p.sep, p.brk)
        out.append(p)
    return out


def fewest_posts(art: Article, plat: Platform) -> int:
    """The fewest posts any split at the segmenter's legal breaks needs, each post numbered " i/N".

    For N = 1, 2, …: the fewest posts when every post reserves the room of " N/N"; the first N
    that many posts fit in is the answer (narrower numbers can only need fewer posts).
    """
    words = _words(art)
    n = len(words)

    def text(a: int, b: int) -> str:
        return "".join(w.text + w.sep for w in words[a : b - 1]) + words[b - 1].text

    for total in range(1, n + 1):
        label = f" {total}/{total}" if total > 1 else ""
        best = [0] + [n + 1] * n
        for b in range(1, n + 1):
            for a in range(b - 1, -1, -1):
                if not plat.fits(text(a, b) + label):
                    break
                best[b] = min(best[b], best[a] + 1)
        if best[n] <= total:
            return best[n]
    return n


@pytest.mark.parametrize("name", sorted(PLATFORMS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(art=articles())
def test_compact_uses_the_fewest_posts(name: str, art: Article) -> None:
    plat = SMALL[name]
    opts = FormatOptions(link="none", hashtags=HashtagBudget(max_tags=0), cut="compact")
    thread = format_thread(art, plat, opts)
    assert len(thread.posts) == fewest_posts(art, plat)


@pytest.mark.parametrize("name", sorted(PLATFORMS))
@SETTINGS
@given(art=articles(), tags=st.lists(st.sampled_from(["Budget", "Défense", "Schulen", "WindPort", "Town"]),
                                     min_size=1, max_size=5, unique=True))
def test_a_tag_is_dropped_for_no_room_only_when_no_post_can_carry_it(name: str, art: Article, tags: list[str]) -> None:
    plat = PLATFORMS[name]
    art = replace(art, hashtags=tuple(tags))
    opts = FormatOptions(link="none", hashtags=HashtagBudget(max_tags=5, placement="end"))
    thread = format_thread(art, plat, opts)
    for dropped in thread.hashtags_dropped:
        if dropped.reason != "no room":
            continue
        for post in thread.posts:
            sep = " " if re.search(r"\n\n#\S+$", post.text) else "\n\n"
            assert not plat.fits(post.text + sep + "#" + dropped.tag), (dropped.tag, post.text)


SAMPLE = ROOT.parent / "shared" / "articles" / "seed-fr-ukraine.txt"


def test_articles_meet_the_cut_targets_against_greedy() -> None:
    """Over every article the benchmark reads, with the defaults: at least greedy's sentence ends,
    at most 3 % of breaks at bare spaces or inside words, and no more posts in total."""
    from bot.article import load_article

    ours, greedy = cuts.Tally(), cuts.Tally()
    for path in cuts.article_paths():
        art = load_article(path)
        for name, plat in PLATFORMS.items():
            ours.add(list(format_thread(art, plat).breaks))
            greedy.add([cuts._NAMES.get(b, "space") for b in cuts.greedy(art, plat)])
    assert ours.posts <= greedy.posts
    assert ours.sentence >= greedy.sentence
    breaks = ours.sentence + ours.clause + ours.other
    assert ours.sentence / breaks >= greedy.sentence / (greedy.sentence + greedy.clause + greedy.other)
    assert ours.other <= 0.03 * breaks


@pytest.mark.skipif(not SAMPLE.exists(), reason="the product owner's sample is beside the repository only")
def test_sample_on_x_has_no_bare_space_break_and_keeps_its_first_hashtags() -> None:
    from bot.article import load_article

    thread = format_thread(load_article(SAMPLE), "x")
    assert "space" not in thread.breaks and "word" not in thread.breaks
    assert thread.hashtags_used[:2] == ("GuerreUkraine", "RussieUkraine")


def _small_x(body: str) -> list[str]:
    thread = format_thread(Article(paragraphs=(body,), lang="fr"), SMALL["x"],
                           FormatOptions(link="none", hashtags=HashtagBudget(max_tags=0)))
    return [p.text for p in thread.posts]


def test_a_post_does_not_end_on_a_function_word_when_a_better_break_is_near() -> None:
    # The fullest first post would end on "sauf"; the cut moves one word back.
    posts = _small_x("Les maisons anciennes du village restent fermées pendant tout l’hiver sauf la petite "
                     "boutique de Martin qui vend du pain chaque matin aux habitants.")
    assert posts[0] == "Les maisons anciennes du village restent fermées pendant tout l’hiver 1/2"


def test_a_quotation_that_fits_one_post_is_not_cut_from_its_marks() -> None:
    # The comma inside the quotation would be the best clause end; the quotation stays whole.
    posts = _small_x("Le maire a répondu hier soir aux habitants inquiets « nous rouvrirons la route, quoi qu’il "
                     "arrive, avant la fin du mois » devant la salle comble.")
    assert posts == [
        "Le maire a répondu hier soir aux habitants inquiets 1/2",
        "« nous rouvrirons la route, quoi qu’il arrive, avant la fin du mois » devant la salle comble. 2/2",
    ]


def test_no_runt_post_when_a_balanced_split_exists() -> None:
    body = ("Le conseil a voté le budget après une longue séance, marquée par de vifs échanges entre la majorité "
            "et l’opposition sur les investissements. Les travaux commenceront en juin. Fin.")
    thread = format_thread(Article(paragraphs=(body,), lang="fr"), SMALL["x"],
                           FormatOptions(link="none", hashtags=HashtagBudget(max_tags=0)))
    assert all(SMALL["x"].length(p.text) >= 0.25 * SMALL["x"].limit for p in thread.posts[:-1])
    assert SMALL["x"].length(thread.posts[-1].text) > len("Fin. 9/9")
