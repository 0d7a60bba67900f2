"""Break candidates: sentences, abbreviations, numbers, quotes, CJK, emoji."""

from __future__ import annotations

import pytest

from bot.segment import Break, graphemes, pieces


def breaks(text: str, lang: str | None = "fr") -> list[tuple[str, Break]]:
    """Each unit a post may end after (NONE pieces glued to the next), with its break kind."""
    out: list[tuple[str, Break]] = []
    buf = ""
    for p in pieces(text, lang):
        buf += p.text
        if p.brk == Break.NONE:
            buf += p.sep
            continue
        out.append((buf, p.brk))
        buf = ""
    return out


def kind_after(text: str, word: str, lang: str | None = "fr") -> Break:
    for unit, brk in breaks(text, lang):
        if unit.endswith(word):
            return brk
    raise AssertionError(f"no break after {word!r} in {breaks(text, lang)}")


def test_pieces_give_back_the_text() -> None:
    text = "Un deux.  Trois\n\nQuatre « cinq » 1 000 €.\n"
    assert "".join(p.text + p.sep for p in pieces(text)) == text.strip()


def test_paragraph_sentence_clause_space() -> None:
    text = "Il pleut ; il vente, encore. Demain aussi\n\nNouveau paragraphe"
    assert kind_after(text, "Il") == Break.SPACE
    assert kind_after(text, "pleut ;") == Break.CLAUSE  # French space before ";" never breaks
    assert kind_after(text, "vente,") == Break.CLAUSE
    assert kind_after(text, "encore.") == Break.SENTENCE
    assert kind_after(text, "aussi") == Break.PARAGRAPH


@pytest.mark.parametrize(
    ("text", "glued"),
    [
        ("Hier M. Dupont est venu.", "M. Dupont"),
        ("Then Dr. Smith arrived.", "Dr. Smith"),
        ("Le taux est de 1,2 % cette année.", "1,2 %"),
        ("It cost $2.1 billion last year.", "$2.1 billion"),
        ("Il a dit « Bonjour » hier.", "« Bonjour »"),
        ("Ils sont 1 000 000 ici.", "1 000 000"),
        ("Vraiment ? Oui !", "Vraiment ?"),
        ("Un trajet de 10 km à pied.", "10 km"),
    ],
)
def test_no_break_contexts(text: str, glued: str) -> None:
    assert any(glued in unit for unit, _ in breaks(text)), breaks(text)


def test_article_49_3_is_one_token() -> None:
    assert any(unit.endswith("49.3") for unit, _ in breaks("L’article 49.3 a été utilisé. Puis rien."))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Voir p. ex. la page trois. Fin.", "ex."),
        ("He left at 5 a.m. on Monday. Fine.", "a.m."),
        ("See e.g. this one. Fine.", "e.g."),
        ("J. K. Rowling wrote it. Fine.", "J."),
    ],
)
def test_abbreviations_do_not_end_sentences(text: str, word: str) -> None:
    assert kind_after(text, word, "en") < Break.SENTENCE


def test_p_ex_is_never_split() -> None:
    assert any("p. ex." in unit for unit, _ in breaks("Voir p. ex. la page trois."))


def test_quote_ends_sentence_french() -> None:
    text = "Il a dit : « C’est fini. » Puis il est parti."
    assert kind_after(text, "»") == Break.SENTENCE
    assert kind_after(text, ":") == Break.CLAUSE


def test_quote_ends_sentence_english() -> None:
    assert kind_after("She said “It is over.” Then she left.", "over.”", "en") == Break.SENTENCE


def test_cjk_sentences_and_characters() -> None:
    units = breaks("你好。我是谁？好的，走吧", "zh")
    assert ("好。", Break.SENTENCE) in units
    assert ("谁？", Break.SENTENCE) in units
    assert ("你", Break.CHAR) in units
    assert ("的，", Break.CLAUSE) in units
    # kinsoku: punctuation never starts a piece
    assert all(not unit.startswith(("。", "？", "，")) for unit, _ in units)


def test_combining_mark_after_space_is_glued() -> None:
    assert len(breaks("a \u0301b c")) == 2


def test_graphemes_keep_emoji_sequences() -> None:
    assert graphemes("👩🏽‍💻🇫🇷👍🏻e\u0301") == ["👩🏽‍💻", "🇫🇷", "👍🏻", "e\u0301"]


def test_empty() -> None:
    assert pieces("   ") == []


def test_clause_ends_after_a_closing_parenthesis_and_before_a_dash() -> None:
    kinds = {p.text: p.brk for p in pieces("Le ministre (PS) a parlé — longuement — puis il est parti.", "fr")}
    assert kinds["(PS)"] == Break.CLAUSE
    assert kinds["parlé"] == Break.CLAUSE  # before "—"
    assert kinds["ministre"] == Break.SPACE
