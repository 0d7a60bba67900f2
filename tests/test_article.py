"""Tests for `bot.article`: the article file format, its errors and the example articles."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pytest

from bot.article import MAX_BYTES, Article, Media, load_article, parse_article
from bot.errors import BadInput

CONFIG_ARTICLES = Path(__file__).resolve().parent.parent / "config" / "articles"

# Same shape as the product owner's sample: one long paragraph, then the hashtag line, then the
# "Mots clés :" line, no blank lines between them and no front matter.
SAMPLE_SHAPE = (
    "Après l’accord signé le 3 mars à Genève, les discussions entre les deux pays ont repris à "
    "Vienne, sans avancée majeure sur le calendrier. M. Durand a salué « des progrès accomplis » "
    "et évoqué « une discussion très utile », tandis que la croissance attendue reste de 1,2 % "
    "selon l’institut. Le texte a été adopté grâce au 49.3, sans vote.\n"
    "#Diplomatie #Vienne #Genève #Europe #Europe\n"
    "Mots clés : Diplomatie, Vienne, Accord de Genève, Croissance, , Union Européenne, Traité de paix"
)


def parse(text: str, **kwargs: object) -> Article:
    return parse_article(text, path="articles/x.txt", **kwargs)  # type: ignore[arg-type]


def error_of(text: str, **kwargs: object) -> str:
    with pytest.raises(BadInput) as caught:
        parse(text, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def load_error(path: Path) -> str:
    with pytest.raises(BadInput) as caught:
        load_article(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}:")
    return message


# --- the sample's shape -----------------------------------------------------------------------


def test_sample_shape() -> None:
    article = parse(SAMPLE_SHAPE)
    assert len(article.paragraphs) == 1
    assert article.paragraphs[0].startswith("Après l’accord")
    assert article.paragraphs[0].endswith("grâce au 49.3, sans vote.")
    assert "#" not in article.body and "Mots clés" not in article.body
    assert article.hashtags == ("Diplomatie", "Vienne", "Genève", "Europe")
    assert article.keywords == (
        "Diplomatie",
        "Vienne",
        "Accord de Genève",
        "Croissance",
        "Union Européenne",
        "Traité de paix",
    )
    assert article.lang == "fr"
    assert article.path == "articles/x.txt"
    assert article.title is None and article.url is None and article.media == () and article.cw is None


def test_blank_line_paragraphs_and_whitespace_normalised() -> None:
    text = "First  line\nof\tthe first paragraph.\n\n\n  Second\n   paragraph.  \n \nThird."
    assert parse(text).paragraphs == ("First line of the first paragraph.", "Second paragraph.", "Third.")
    assert parse(text).body == "First line of the first paragraph.\n\nSecond paragraph.\n\nThird."


def test_no_break_spaces_are_kept() -> None:
    # French typography: they keep "1,2 %" and "« mot »" together; collapsing them would break that.
    text = "La hausse est de 1,2\u00a0% et «\u202fnette\u202f» ;  voilà."
    assert parse(text).paragraphs == ("La hausse est de 1,2\u00a0% et «\u202fnette\u202f» ; voilà.",)


def test_stray_control_characters_are_dropped_from_the_body() -> None:
    text = "Un texte\x07 copié d’un terminal\x1b, propre une fois nettoyé."
    assert parse(text).paragraphs == ("Un texte copié d’un terminal, propre une fois nettoyé.",)


def test_body_is_nfc() -> None:
    decomposed = "Cafe\u0301 de la gare."
    assert parse(decomposed).paragraphs == ("Café de la gare.",)


# --- keywords labels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "lang"),
    [
        ("Mots clés :", "fr"),
        ("Mots clés:", "fr"),
        ("Mots-clés :", "fr"),
        ("mots-clés:", "fr"),
        ("MOTS CLÉS :", "fr"),
        ("Mots clefs :", "fr"),
        ("Mot clé :", "fr"),
        ("Mots cles :", "fr"),
        ("Mots clés\u00a0:", "fr"),
        ("Mots clés\u202f:", "fr"),
        ("Keywords:", "en"),
        ("keywords :", "en"),
        ("KEYWORDS:", "en"),
        ("Key words:", "en"),
        ("Keyword:", "en"),
        ("Tags:", None),
        ("tags :", None),
        ("Tag:", None),
        ("Schlagwörter:", "de"),
        ("Schlagworte:", "de"),
        ("Stichwörter:", "de"),
        ("Stichwörter :", "de"),
        ("Palabras clave:", "es"),
        ("Parole chiave:", "it"),
    ],
)
def test_keywords_label_variants(label: str, lang: str | None) -> None:
    article = parse(f"Body text.\n\n{label} alpha, Beta Gamma ; delta,, epsilon.")
    assert article.keywords == ("alpha", "Beta Gamma", "delta", "epsilon")
    assert article.paragraphs == ("Body text.",)
    assert article.lang == lang


def test_keywords_entries_cleaned() -> None:
    article = parse("Body.\nKeywords:  U.S. ,  e. g. , trade war.., ,\tmarkets . ;y.")
    assert article.keywords == ("U.S.", "e. g.", "trade war", "markets", "y")


def test_keywords_line_with_no_entries_still_consumed() -> None:
    article = parse("Body.\nKeywords:")
    assert article.paragraphs == ("Body.",) and article.keywords == () and article.lang == "en"


def test_keywords_label_inside_a_sentence_is_body() -> None:
    text = "The report lists its tags: none are new.\n\nKeywords: report"
    assert parse(text).paragraphs == ("The report lists its tags: none are new.",)


# --- language ---------------------------------------------------------------------------------


def test_lang_front_matter_beats_default_and_label() -> None:
    text = "---\nlang: de\n---\nText.\nMots clés : a"
    assert parse(text, default_lang="en").lang == "de"


def test_lang_label_guess_beats_the_campaign_default() -> None:
    assert parse("Text.\nMots clés : a", default_lang="en").lang == "fr"


FRENCH = ("Le gouvernement a engagé mercredi sa responsabilité sur le projet de loi de finances, "
          "en recourant à l'article 49.3 de la Constitution pour la troisième fois de la session.")
GERMAN = ("Nach knapp drei Jahren Bauzeit ist der Radschnellweg zwischen Altenau und Kesselbach am "
          "Samstag für den Verkehr freigegeben worden.")


def test_the_body_language_beats_the_label_and_the_campaign() -> None:
    assert parse(FRENCH, default_lang="en").lang == "fr"
    assert parse(GERMAN + "\nKeywords: Radweg", default_lang="en").lang == "de"


def test_explicit_lang_and_front_matter_beat_the_detector() -> None:
    assert parse(FRENCH, lang="en", default_lang="de").lang == "en"
    assert parse("---\nlang: fr-CA\n---\n" + GERMAN).lang == "fr-CA"


def test_a_text_too_short_or_unclear_is_not_guessed() -> None:
    from bot.language import detect_language

    assert detect_language("OK merci") is None
    assert parse("OK merci beaucoup.", default_lang="en").lang == "en"
    assert detect_language(FRENCH) == "fr" and detect_language(GERMAN) == "de"


def test_lang_tags_label_gives_no_guess() -> None:
    assert parse("Text.\nTags: a, b").lang is None
    assert parse("Text.\n#a").lang is None
    assert parse("Text.\nTags: a", default_lang="fr").lang == "fr"


# --- hashtag line and ordering ------------------------------------------------------------------


def test_hashtag_line_comma_separated_and_trailing_punctuation() -> None:
    article = parse("Body.\n#Un, #Deux,#Trois;  #Quatre.")
    assert article.hashtags == ("Un", "Deux", "Trois", "Quatre")


def test_hashtags_deduplicated_exactly_in_order() -> None:
    article = parse("Body.\n#b #a #b #A")
    assert article.hashtags == ("b", "a", "A")


@pytest.mark.parametrize(
    "tail",
    [
        "#alpha #beta\nKeywords: one, two",
        "Keywords: one, two\n#alpha #beta",
        "\n#alpha #beta\n\nKeywords: one, two\n\n",
        "\n\nKeywords: one, two\n\n#alpha #beta\n",
    ],
)
def test_trailing_lines_in_either_order(tail: str) -> None:
    article = parse("Para one.\n\nPara two.\n" + tail)
    assert article.paragraphs == ("Para one.", "Para two.")
    assert article.hashtags == ("alpha", "beta")
    assert article.keywords == ("one", "two")
    assert article.lang == "en"


def test_either_trailing_line_may_be_missing() -> None:
    only_tags = parse("Body.\n#x #y")
    assert only_tags.hashtags == ("x", "y") and only_tags.keywords == ()
    only_keywords = parse("Body.\n\nMots-clés : x, y")
    assert only_keywords.hashtags == () and only_keywords.keywords == ("x", "y")
    neither = parse("Body.\n\nMore body.")
    assert neither.hashtags == () and neither.keywords == () and neither.lang is None


def test_hashtag_and_keywords_lines_inside_the_body_stay_body() -> None:
    text = "Intro.\n#Alpha #Beta\nKeywords: a, b\nStill the same paragraph.\n\nLast paragraph.\n#Gamma"
    article = parse(text)
    assert article.paragraphs == (
        "Intro. #Alpha #Beta Keywords: a, b Still the same paragraph.",
        "Last paragraph.",
    )
    assert article.hashtags == ("Gamma",) and article.keywords == ()


def test_a_line_that_is_not_only_hashtags_is_body() -> None:
    for line in ("#Alpha and more", "# Heading", "#Alpha #", "C# #Alpha"):
        article = parse(f"Body.\n{line}")
        assert article.hashtags == (), line
        assert article.paragraphs == (f"Body. {line}",)


# --- front matter -----------------------------------------------------------------------------


FULL_FRONT_MATTER = """\
---
title: "Un titre : avec deux-points"
url: https://example.org/a?b=1
lang: fr-CA
hashtags: ["#Un", Deux]
keywords: alpha, beta
cw: politique
media:
  - path: img/photo.jpg
    alt: Une photo
  - path: /abs/chart.png
---
Le corps.
#Deux #Trois
Mots clés : beta, gamma
"""


def test_full_front_matter() -> None:
    article = parse_article(FULL_FRONT_MATTER, path="articles/x.txt", default_lang="en")
    assert article.title == "Un titre : avec deux-points"
    assert article.url == "https://example.org/a?b=1"
    assert article.lang == "fr-CA"
    assert article.cw == "politique"
    assert article.paragraphs == ("Le corps.",)
    # Front matter first, then the lines', duplicates removed.
    assert article.hashtags == ("Un", "Deux", "Trois")
    assert article.keywords == ("alpha", "beta", "gamma")
    assert article.media == (
        Media(path=Path("articles/img/photo.jpg"), alt="Une photo"),
        Media(path=Path("/abs/chart.png"), alt=""),
    )


def test_front_matter_string_hashtags_single_media_and_keyword_list() -> None:
    text = '---\nhashtags: "#a #b, #c"\nkeywords: [x, "y.", 2025]\nmedia: {path: p.png, alt: Alt}\n---\nBody.'
    article = parse_article(text, path="dir/sub/a.txt")
    assert article.hashtags == ("a", "b", "c")
    assert article.keywords == ("x", "y", "2025")
    assert article.media == (Media(path=Path("dir/sub/p.png"), alt="Alt"),)


def test_front_matter_scalars_kept_as_written() -> None:
    article = parse("---\ntitle: 1984\ncw: yes\nlang:\n---\nBody.")
    assert article.title == "1984" and article.cw == "yes" and article.lang is None


def test_front_matter_empty_is_allowed() -> None:
    assert parse("---\n---\nBody.").paragraphs == ("Body.",)
    assert parse("---\n# just a comment\n...\nBody.").paragraphs == ("Body.",)


def test_media_without_path_is_relative_to_cwd() -> None:
    article = parse_article("---\nmedia: [a.png]\n---\nBody.")
    assert article.media == (Media(path=Path("a.png")),)
    assert article.path is None


def test_horizontal_rule_later_in_the_body_is_not_front_matter() -> None:
    assert parse("Body.\n---\nMore.").paragraphs == ("Body. --- More.",)


# --- errors, with their exact messages ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "articles/x.txt: empty body"),
        ("  \n\n\t\n", "articles/x.txt: empty body"),
        ("#a #b\nKeywords: x, y", "articles/x.txt: empty body"),
        ("---\ntitle: T\n---\n\n", "articles/x.txt: empty body"),
        ("text\x00more", "articles/x.txt: binary content"),
        ("\x01\x02\x03\x04 mostly controls", "articles/x.txt: binary content"),
        (
            "---\ntitle: T\nurl: [unclosed\n---\nBody.",
            "articles/x.txt:3: front matter is not valid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "---\ntitle: T\nlang: fr\n  bad: indent\n---\nBody.",
            "articles/x.txt:4: front matter is not valid YAML: mapping values are not allowed here",
        ),
        ("---\ntitle: T\nBody.", "articles/x.txt:1: front matter is not closed (no '---' line after it)"),
        (
            "---\ntitle: T\nauthor: Me\n---\nBody.",
            "articles/x.txt:3: unknown front-matter key 'author' (known: title, url, lang, hashtags, keywords, media, cw)",
        ),
        ("---\ntitle: A\ntitle: B\n---\nBody.", "articles/x.txt:3: front-matter key 'title' is given twice"),
        (
            "---\n- a\n- b\n---\nBody.",
            "articles/x.txt:2: front matter must be a mapping of keys (title, url, lang, hashtags, keywords, media, cw), not a list",
        ),
        (
            "---\nhashtags: 5\n---\nBody.",
            "articles/x.txt:2: front matter 'hashtags' must be a list or a string of #tags, not a number",
        ),
        (
            "---\nhashtags: #a #b\n---\nBody.",
            "articles/x.txt:2: front matter 'hashtags': '#' starts a YAML comment; quote the value or use a list",
        ),
        (
            "---\nhashtags: [a, [b]]\n---\nBody.",
            "articles/x.txt:2: front matter 'hashtags' must be a list or a string of #tags, not a list of a list",
        ),
        ("---\nhashtags: [two words]\n---\nBody.", "articles/x.txt:2: front matter 'hashtags' entry 'two words' is not a hashtag"),
        (
            "---\nkeywords: {a: 1}\n---\nBody.",
            "articles/x.txt:2: front matter 'keywords' must be a list or a comma-separated string, not a mapping",
        ),
        ("---\ntitle: [a, b]\n---\nBody.", "articles/x.txt:2: front matter 'title' must be text, not a list"),
        ("---\ncw: {a: b}\n---\nBody.", "articles/x.txt:2: front matter 'cw' must be text, not a mapping"),
        ("---\nurl: example.org\n---\nBody.", "articles/x.txt:2: front matter 'url' must be an http(s) URL, not 'example.org'"),
        (
            "---\nlang: French\n---\nBody.",
            "articles/x.txt:2: front matter 'lang' must be a language code such as 'fr' or 'en-GB', not 'French'",
        ),
        (
            "---\nmedia: 3\n---\nBody.",
            "articles/x.txt:2: front matter 'media' must be a list of {path, alt} mappings or one mapping, not a number",
        ),
        ("---\nmedia:\n  - alt: x\n---\nBody.", "articles/x.txt:3: front matter 'media[0]' has no 'path'"),
        (
            "---\nmedia:\n  path: a.png\n  caption: x\n---\nBody.",
            "articles/x.txt:3: unknown key 'caption' in front matter 'media' (known: path, alt)",
        ),
        ("---\nmedia: {path: [a]}\n---\nBody.", "articles/x.txt:2: front matter 'media.path' must be text, not a list"),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    assert error_of(text) == message


def test_error_without_path_names_the_article() -> None:
    with pytest.raises(BadInput, match=r"^<article>: empty body$"):
        parse_article("")


def test_oversize_text() -> None:
    assert error_of("é" * (MAX_BYTES // 2 + 1)) == "articles/x.txt: larger than 1 MiB (1,048,578 bytes)"


def test_bad_input_exit_code() -> None:
    with pytest.raises(BadInput) as caught:
        parse("")
    assert caught.value.exit_code == 2


# --- content hash -----------------------------------------------------------------------------


def test_content_hash_is_sha256_of_nfc_text() -> None:
    text = "Cafe\u0301.\n#a"
    expected = hashlib.sha256(unicodedata.normalize("NFC", text).encode()).hexdigest()
    assert parse(text).content_hash == expected
    assert parse("Café.\n#a").content_hash == expected  # already composed: same hash
    assert parse("Café.\n#b").content_hash != expected  # an edit changes it
    assert parse("\ufeffCafé.\r\n#a").content_hash == expected  # BOM and CRLF do not


def test_content_hash_not_part_of_equality() -> None:
    assert parse("Body.") == Article(paragraphs=("Body.",), path="articles/x.txt")


# --- files ------------------------------------------------------------------------------------


def test_load_article_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeff---\r\ntitle: Titre\r\n---\r\nUn.\r\n\r\nDeux.\r\n#Tag\r\nMots clés : a, b\r\n".encode())
    article = load_article(path)
    assert article.title == "Titre"
    assert article.paragraphs == ("Un.", "Deux.")
    assert article.hashtags == ("Tag",) and article.keywords == ("a", "b") and article.lang == "fr"
    assert article.path == str(path)


def test_load_article_old_mac_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"One.\r\rTwo.\r#t")
    assert load_article(path).paragraphs == ("One.", "Two.")


def test_load_article_default_lang_and_str_path(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Body.\n", encoding="utf-8")
    assert load_article(str(path), default_lang="de").lang == "de"


def test_load_article_latin1(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    data = "Le café est servi.".encode("latin-1")
    path.write_bytes(data)
    assert load_error(path) == f"{path}: not UTF-8 (invalid byte 0xe9 at offset {data.index(0xE9)})"


def test_load_article_truncated_utf8(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_bytes("Body é".encode()[:-1])
    assert load_error(path) == f"{path}: not UTF-8 (invalid byte 0xc3 at offset 5)"


def test_load_article_utf16(tmp_path: Path) -> None:
    path = tmp_path / "u16.txt"
    path.write_bytes("Body.".encode("utf-16"))
    assert load_error(path) == f"{path}: not UTF-8 (UTF-16 byte-order mark at offset 0)"


def test_load_article_binary(tmp_path: Path) -> None:
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert load_error(png) == f"{png}: binary content"
    controls = tmp_path / "controls.txt"
    controls.write_bytes(b"text" + b"\x1b\x02" * 10)
    assert load_error(controls) == f"{controls}: binary content"


def test_load_article_size_limit(tmp_path: Path) -> None:
    at_limit = tmp_path / "big.txt"
    at_limit.write_bytes(b"a" * MAX_BYTES)
    assert load_article(at_limit).paragraphs == ("a" * MAX_BYTES,)
    over = tmp_path / "bigger.txt"
    over.write_bytes(b"a" * (MAX_BYTES + 1))
    assert load_error(over) == f"{over}: larger than 1 MiB (1,048,577 bytes)"


def test_load_article_size_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "sparse.txt"
    with open(path, "wb") as handle:
        handle.truncate(5 * MAX_BYTES)  # sparse: costs no disk space
    # The exact size (not "more than 1,048,576") shows it came from the file's metadata, not a read.
    assert load_error(path) == f"{path}: larger than 1 MiB (5,242,880 bytes)"


def test_load_article_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    assert load_error(path) == f"{path}: cannot read (No such file or directory)"


def test_load_article_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert load_error(path) == f"{path}: empty body"


def test_load_article_front_matter_error_line_counts_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeff---\r\ntitle: ok\r\nurl: https://x.org\r\nlang: : :\r\n---\r\nBody.".encode())
    assert load_error(path) == f"{path}:4: front matter is not valid YAML: mapping values are not allowed here"


def test_media_resolved_relative_to_the_article_file(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    path = folder / "a.txt"
    path.write_text("---\nmedia:\n  - path: img/one.jpg\n    alt: One\n  - ../two.png\n---\nBody.\n", encoding="utf-8")
    article = load_article(path)
    assert article.media == (Media(folder / "img" / "one.jpg", "One"), Media(folder / ".." / "two.png", ""))


# --- the shipped example articles -----------------------------------------------------------------


def test_example_articles_parse() -> None:
    paths = sorted(CONFIG_ARTICLES.glob("*.txt"))
    assert len(paths) >= 2
    for path in paths:
        article = load_article(path)
        assert len(article.paragraphs) >= 2, path
        assert article.hashtags and article.keywords, path
        assert article.lang in {"en", "fr", "de"}, path
        assert not any("#" in tag for tag in article.hashtags)


def test_example_english_article() -> None:
    article = load_article(CONFIG_ARTICLES / "en-harbour-wind-port.txt")
    assert article.lang == "en" and article.title and article.url and article.url.startswith("https://")
    assert "$2.1 billion" in article.body and "Dr. Miriam Okafor" in article.body
    assert 1500 <= len(article.body) <= 3000


def test_example_french_article() -> None:
    article = load_article(CONFIG_ARTICLES / "fr-budget-49-3.txt")
    assert article.title is None and article.lang == "fr"  # no front matter: guessed from "Mots clés"
    assert "1,2 %" in article.body and "49.3" in article.body and "« " in article.body
    assert article.keywords[1] == "article 49.3" and article.keywords[-1] == "Sénat"
    assert 2500 <= len(article.body) <= 3500
