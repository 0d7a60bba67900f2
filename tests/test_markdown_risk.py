"""Markdown risk: what Hollo's markdown-it (linkify on, html off) would not show literally, and the lookalikes it would."""

from __future__ import annotations


import pytest

from bot.markdown_risk import markdown_changes

# Inputs that would make a careless parser quadratic (long runs of delimiters and brackets).
PATHOLOGICAL = ["a* " * 3400, "[" * 10000, "` " * 5000, "_a_" * 3300, "\\" * 10000]


def one(text: str) -> str:
    """The single description for text; fails if there is not exactly one."""
    found = markdown_changes(text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "kind", "snippet"),
    [
        ("C'est *vraiment* bien", "italic", '"*vraiment*"'),
        ("un **gros** mot", "bold", '"**gros**"'),
        ("un _petit_ mot", "italic", '"_petit_"'),
        ("__gras__ ici", "bold", '"__gras__"'),
        ("***les deux***", "bold italic", '"***les deux***"'),
        ("« *mot* »", "italic", '"*mot*"'),
        ("l'*art*", "italic", '"*art*"'),
        ("x*y*z", "italic", '"*y*"'),
        ("Texte *sur\ndeux* lignes", "italic", '"*sur↵deux*"'),
        ("lance `make test` puis", "inline code", '"`make test`"'),
        ("`` a ` b ``", "inline code", '"`` a ` b ``"'),
        ("# Titre", "heading", '"# Titre"'),
        ("###### Six", "heading", '"###### Six"'),
        ("#", "heading", '"#"'),
        ("> une citation", "blockquote", '"> une citation"'),
        (">sans espace", "blockquote", '">sans espace"'),
        ("- un", "bullet list item", '"- un"'),
        ("* un", "bullet list item", '"* un"'),
        ("+ un", "bullet list item", '"+ un"'),
        ("1. un", "ordered list item", '"1. un"'),
        ("1) un", "ordered list item", '"1) un"'),
        ("2024. was a year", "ordered list item", '"2024. was a year"'),
        ("123456789. x", "ordered list item", '"123456789. x"'),
        ("Intro\n1. un", "ordered list item", '"1. un"'),
        ("Intro\n- un", "bullet list item", '"- un"'),
        ("voir [le site](https://ex.com/a_b)", "link", '"[le site](https://ex.com/a_b)"'),
        ("[vide]()", "link", '"[vide]()"'),
        ("![un chat](chat.png)", "image", '"![un chat](chat.png)"'),
        (r"5 \* 3", "backslash escape", '"\\*" shows as "*"'),
        ("---", "thematic break", '"---"'),
        ("***", "thematic break", '"***"'),
        ("___", "thematic break", '"___"'),
        ("- - -", "thematic break", '"- - -"'),
        ("Titre\n===", "setext heading underline", '"===" makes "Titre" a heading'),
        ("Titre\n---", "setext heading underline", '"---" makes "Titre" a heading'),
        ("Titre\n-", "setext heading underline", '"-" makes "Titre" a heading'),
        ("ligne  \nsuite", "hard line break (two trailing spaces)", '"ligne"'),
        ("ligne\\\nsuite", "hard line break (trailing backslash)", '"ligne\\"'),
        ("c'est ~~faux~~ vrai", "strikethrough", '"~~faux~~"'),
        ("```\n*pas lu*\n```", "fenced code block", '"```"'),
        ("~~~python", "fenced code block", '"~~~python"'),
        ("Intro\n\n    code", "indented code block", '"    code"'),
        ("<https://ex.com/page>", "autolink, angle brackets removed", '"<https://ex.com/page>"'),
        ("écrire à <moi@ex.fr>", "autolink, angle brackets removed", '"<moi@ex.fr>"'),
        ("Tom &amp; Jerry", "HTML entity", '"&amp;" shows as "&"'),
        ("&#65;", "HTML entity", '"&#65;" shows as "A"'),
    ],
)
def test_reported(text: str, kind: str, snippet: str) -> None:
    found = one(text)
    assert found.startswith(kind + ":") or found.startswith(kind + " "), found
    assert snippet in found, found


@pytest.mark.parametrize(
    "text",
    [
        "C'est 5 * 3, pas 5 * 3 * 2.",
        "5 * 3 * 2",
        "une étoile * isolée",
        "snake_case_name et snake_case",
        "#hash_tag #Budget2025 #tag",
        "@user@server.social et @a_b_c@ex.fr",
        "https://ex.com/a_b_c*",
        "voir https://ex.com/a_b_c* et https://ex.com/*x*/y_z_",
        "2024 fut une année",
        "Le taux est de 1.5 % cette année.",
        "Il a dit : « Non ! » — c’est l’avis d’un expert.",
        "It's the author's view; they're \"sure\".",
        "<b>gras</b> et <br> restent affichés tels quels",
        "a < b > c",
        "Prix : 10 € * 2",
        "x_y_z",
        "foo_bar_ baz",
        "**pas fermé",
        "un seul ~tilde~",
        "Titre #",
        "####### sept dièses",
        "#1 des ventes",
        "[crochets] sans définition",
        "[a](b c)",
        "&nimportequoi; reste",
        "Titre\n\n===",
        "Intro\n2024. suite de la phrase",
        "Intro\n2. suite",
        "ligne \nsuite",
        "fin de post  ",
        "Première ligne\nDeuxième ligne\n\nNouveau paragraphe.",
        "1234567890. trop de chiffres",
        "a `b non fermé",
    ],
)
def test_not_reported(text: str) -> None:
    assert markdown_changes(text) == []


def test_empty_text() -> None:
    assert markdown_changes("") == []


def test_list_every_item_and_mixed_order() -> None:
    found = markdown_changes("- un *deux*\n- trois\n\n1. quatre")
    assert found == [
        'bullet list item: "- un *deux*"',
        'italic: "*deux*"',
        'bullet list item: "- trois"',
        'ordered list item: "1. quatre"',
    ]


def test_list_item_number_after_list_is_an_item() -> None:
    found = markdown_changes("1. un\n2024. deux")
    assert found == ['ordered list item: "1. un"', 'ordered list item: "2024. deux"']


def test_blockquote_once_per_block_and_inner_constructs() -> None:
    found = markdown_changes("> a\n> b\nlazy\n\n> # Titre")
    assert found == ['blockquote: "> a"', 'blockquote: "> # Titre"', 'heading: "# Titre"']


def test_nested_emphasis() -> None:
    assert markdown_changes("*a **b** c*") == ['italic: "*a **b** c*"', 'bold: "**b**"']


def test_rule_of_three() -> None:
    assert markdown_changes("*foo**bar*") == ['italic: "*foo**bar*"']


def test_code_span_hides_its_content() -> None:
    assert markdown_changes("`*pas* [lien](x) \\*`") == ['inline code: "`*pas* [lien](x) \\*`"']


def test_fenced_code_hides_its_content_until_closed() -> None:
    found = markdown_changes("```\n# pas titre\n*x*\n```\n*oui*")
    assert found == ['fenced code block: "```"', 'italic: "*oui*"']


def test_escaped_backtick_opens_no_code() -> None:
    assert markdown_changes("\\`pas du code`") == ['backslash escape: "\\`" shows as "`"']


def test_link_text_is_scanned_destination_is_not() -> None:
    found = markdown_changes("[*mis en avant*](/a_b_/c*)")
    assert found == ['link: "[*mis en avant*](/a_b_/c*)"', 'italic: "*mis en avant*"']


def test_reference_definition_and_use() -> None:
    found = markdown_changes("voir [doc]\n\n[doc]: https://ex.com")
    assert found == ['link: "[doc]"', 'link reference definition, line hidden: "[doc]: https://ex.com"']


def test_table() -> None:
    found = markdown_changes("a | b\n--|--\n1 | *2*")
    assert found == ['table: "a | b"', 'italic: "*2*"']


def test_table_needs_matching_columns() -> None:
    assert markdown_changes("a | b\n---") == ['setext heading underline "---" makes "a | b" a heading']


def test_hard_break_not_at_paragraph_end() -> None:
    assert markdown_changes("un  \ndeux  \n\ntrois  ") == ['hard line break (two trailing spaces) after "un"']


def test_list_continuation_is_not_indented_code() -> None:
    assert markdown_changes("- a\n\n    suite du point") == ['bullet list item: "- a"']


def test_snippet_cut_at_40_characters() -> None:
    found = one("*" + "x" * 80 + "*")
    snippet = found.split(": ", 1)[1]
    assert snippet == '"*' + "x" * 38 + '…"'
    assert len(snippet) == 42


def test_crlf_input() -> None:
    assert markdown_changes("Titre\r\n===\r\n") == ['setext heading underline "===" makes "Titre" a heading']


def test_french_post_with_lookalikes_only() -> None:
    post = (
        "Budget 2025 : l’État prévoit 1.5 % de croissance, soit 5 * 3 milliards.\n"
        "« C’est insuffisant », dit @eco@social.example.\n"
        "https://journal.example/2025/01/budget_etat_*final*\n"
        "#Budget2025 #finances_publiques"
    )
    assert markdown_changes(post) == []


@pytest.mark.parametrize("text", PATHOLOGICAL)
def test_pathological_input_gets_an_answer(text: str) -> None:
    # How fast is for benchmarks/markdown_risk.py to say (no timing in tests); here: it ends,
    # with descriptions of bounded length.
    changes = markdown_changes(text)
    assert isinstance(changes, list) and all(len(c) < 200 for c in changes)
