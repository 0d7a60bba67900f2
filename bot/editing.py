"""A person's edits of a queued thread: split, join, retag and re-number, counted like the formatter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import BadInput
from bot.platforms import get_platform
from bot.platforms.base import Platform

# A line holding only this, in a post being edited, cuts the post in two there.
SPLIT_MARK = "---"
SPLIT_LINE = re.compile(r"^[ \t]*-{3,}[ \t]*$", re.MULTILINE)
_SUFFIX = re.compile(r"[ \u00a0]\d{1,3}/\d{1,3}$")
_PREFIX = re.compile(r"^\d{1,3}/\d{1,3} ")
THREAD_MARKER = " 🧵"
_TAG_TOKEN = re.compile(r"^#[^\s#]+$")
_URL_TOKEN = re.compile(r"^https?://\S+$")
_INLINE_TAG = r"(?<![\w#])#{tag}(?![\w])"


class EditRefused(BadInput):
    """The edit does not fit or breaks a rule; `problems` lists each one, with the counts. Nothing
    is written when this is raised."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class PostCount:
    """One post's length as its platform counts it (content warning included where it counts)."""

    length: int
    limit: int
    fits: bool
    unit: str = "characters"
    # Bluesky also caps the UTF-8 bytes: (bytes, max bytes) when the platform measures them.
    extra: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        """`283/280` (and `· 3012/3000 bytes` when bytes are capped too)."""
        text = f"{self.length}/{self.limit}"
        if self.extra is not None:
            text += f" · {self.extra[0]}/{self.extra[1]} bytes"
        return text


def counter_for(item: Any) -> Platform:
    """The platform profile the item was formatted with: its counting profile (a dry-run account's
    `as:`), limit and URL length as stored at enqueue; the platform's defaults for older items."""
    options = item.options or {}
    name = options.get("profile") or item.platform
    overrides: dict[str, Any] = {}
    try:
        platform = get_platform(name)
    except BadInput:
        platform = get_platform("dryrun")
    for key in ("limit", "url_length", "counting"):
        if options.get(key) and key in platform.overrides:
            overrides[key] = options[key]
    return get_platform(platform.name, **overrides) if overrides else platform


def content_warning(item: Any, platform: Platform) -> str | None:
    """The content warning that goes with each post, where the platform shows (and counts) it."""
    cw = (item.options or {}).get("cw")
    return cw if cw and getattr(platform, "supports_cw", False) else None


def count_post(platform: Platform, text: str, cw: str | None = None) -> PostCount:
    """`text` measured by `platform` exactly as the formatter measures it."""
    measured = list(platform.measure(text))
    maxima = list(platform.maxima)
    if cw:
        measured[0] += platform.cw_length(cw)
    fits = all(m <= cap for m, cap in zip(measured, maxima))
    extra = (measured[1], maxima[1]) if len(measured) > 1 else None
    return PostCount(length=measured[0], limit=maxima[0], fits=fits, extra=extra)


def thread_counts(item: Any) -> list[PostCount]:
    """Each stored post of the item, counted."""
    platform = counter_for(item)
    cw = content_warning(item, platform)
    return [count_post(platform, p.text, cw) for p in item.posts]


def numbering_style(item: Any) -> str:
    """The numbering the thread was formatted with (stored at enqueue), else guessed from its text."""
    style = (item.options or {}).get("numbering")
    if style in ("suffix", "prefix", "thread", "none"):
        return style
    texts = [p.text for p in item.posts]
    if len(texts) > 1:
        if all(_PREFIX.match(t) for t in texts):
            return "prefix"
        if all(_SUFFIX.search(split_tail(t)[0]) for t in texts):
            return "suffix"
        if split_tail(texts[0])[0].endswith(THREAD_MARKER):
            return "thread"
    return "none"


def split_tail(text: str) -> tuple[str, str]:
    """(body, tail): the tail is the closing blocks the formatter adds after the body — a line of
    hashtags, the link — each after a blank line; the body is everything before them."""
    blocks = text.split("\n\n")
    keep = len(blocks)
    while keep > 1 and _is_tail_block(blocks[keep - 1]):
        keep -= 1
    body = "\n\n".join(blocks[:keep])
    tail = "".join("\n\n" + b for b in blocks[keep:])
    return body, tail


def _is_tail_block(block: str) -> bool:
    tokens = block.split()
    if not tokens:
        return False
    return all(_TAG_TOKEN.match(t) for t in tokens) or (len(tokens) == 1 and bool(_URL_TOKEN.match(tokens[0])))


def strip_numbering(text: str, style: str) -> str:
    """The post without its `i/N` (or 🧵) marker."""
    body, tail = split_tail(text.strip())
    if style == "prefix":
        body = _PREFIX.sub("", body, count=1)
    elif style == "suffix":
        body = _SUFFIX.sub("", body)
    elif style == "thread" and body.endswith(THREAD_MARKER):
        body = body[: -len(THREAD_MARKER)]
    return body.rstrip() + tail


def apply_numbering(text: str, style: str, index: int, total: int) -> str:
    """The post with the marker of post `index` of `total` where the formatter puts it."""
    if total <= 1 or style == "none":
        return text
    body, tail = split_tail(text)
    if style == "prefix":
        body = f"{index}/{total} {body}"
    elif style == "suffix":
        body = f"{body} {index}/{total}"
    elif style == "thread" and index == 1:
        body += THREAD_MARKER
    return body + tail


def prepare_edit(item: Any, edited: Sequence[str | None]) -> list[str]:
    """The thread's new post texts from a person's edit, ready for `Store.edit_posts`.

    `edited[i]` is the new text of post i+1 (None: unchanged; posted posts are always kept as
    they are, whatever is given). A line `---` in a text splits that post there; an empty text
    drops the post. Numbering is stripped and written again for the new count. Raises
    EditRefused, naming each post that does not fit with its count against the limit, when a
    split or a join is asked in a partly published thread, or when nothing would be left.
    """
    posts = list(item.posts)
    if len(edited) != len(posts):
        raise EditRefused([f"the form has {len(edited)} posts but the thread has {len(posts)}: reload it"])
    style = numbering_style(item)
    posted = [p.state == "posted" for p in posts]
    problems: list[str] = []
    bodies: list[tuple[str, bool]] = []  # (text without numbering, posted)
    for post, text, is_posted in zip(posts, edited, posted):
        if is_posted:
            bodies.append((post.text, True))
            continue
        source = post.text if text is None else text.replace("\r\n", "\n")
        pieces = [strip_numbering(piece, style) for piece in SPLIT_LINE.split(source)]
        pieces = [piece for piece in pieces if piece.strip()]
        if any(posted) and len(pieces) != 1:
            problems.append(
                f"post {post.index}: this thread is partly published, so posts cannot be split, joined "
                "or removed (readers have seen the numbering); change the text only"
            )
            pieces = [strip_numbering(post.text, style)]
        bodies.extend((piece, False) for piece in pieces)
    if problems:
        raise EditRefused(problems)
    return _finish(item, bodies, style)


def join_posts(item: Any, index: int) -> list[str]:
    """The thread with post `index` and the one after it made one post (EditRefused when it does not
    fit, the thread is partly published, or there is no post after it)."""
    posts = list(item.posts)
    if not 1 <= index < len(posts):
        raise EditRefused([f"post {index} has no post after it to join with"])
    if any(p.state == "posted" for p in posts):
        raise EditRefused(["this thread is partly published: posts cannot be joined (readers have seen the numbering)"])
    style = numbering_style(item)
    first_body, first_tail = split_tail(strip_numbering(posts[index - 1].text, style))
    second_body, second_tail = split_tail(strip_numbering(posts[index].text, style))
    joined = f"{first_body} {second_body}".strip() + _merge_tails(first_tail, second_tail)
    bodies = [(strip_numbering(p.text, style), False) for p in posts]
    bodies[index - 1 : index + 1] = [(joined, False)]
    return _finish(item, bodies, style)


def drop_hashtag(item: Any, tag: str) -> list[str]:
    """The thread without hashtag `tag` in its unpublished posts: removed from a closing line of
    hashtags, turned back into a plain word where it stands inside a sentence."""
    tag = _clean_tag(tag)
    style = numbering_style(item)
    pattern = re.compile(_INLINE_TAG.format(tag=re.escape(tag)), re.IGNORECASE)
    found = False
    bodies: list[tuple[str, bool]] = []
    for post in item.posts:
        if post.state == "posted":
            bodies.append((post.text, True))
            continue
        body, tail = split_tail(strip_numbering(post.text, style))
        blocks = [b for b in tail.split("\n\n") if b]
        kept_blocks = []
        for block in blocks:
            tokens = block.split()
            if all(_TAG_TOKEN.match(t) for t in tokens):
                remaining = [t for t in tokens if t[1:].lower() != tag.lower()]
                found = found or len(remaining) != len(tokens)
                if remaining:
                    kept_blocks.append(" ".join(remaining))
            else:
                kept_blocks.append(block)
        new_body, hits = pattern.subn(lambda m: m.group(0)[1:], body)
        found = found or hits > 0
        bodies.append((new_body + "".join("\n\n" + b for b in kept_blocks), False))
    if not found:
        raise EditRefused([f"#{tag} is not in the unpublished posts"])
    return _finish(item, bodies, style)


def add_hashtag(item: Any, tag: str) -> list[str]:
    """The thread with `#tag` added to the closing line of hashtags of its last post (a line made
    for it when there is none), if the platform links it and the post still fits."""
    tag = _clean_tag(tag)
    platform = counter_for(item)
    if not platform.hashtag_valid(tag):
        raise EditRefused([f"#{tag} is not a hashtag {platform.name} would link"])
    posts = list(item.posts)
    if posts[-1].state == "posted":
        raise EditRefused(["the last post is published: hashtags cannot be added to it"])
    style = numbering_style(item)
    pattern = re.compile(_INLINE_TAG.format(tag=re.escape(tag)), re.IGNORECASE)
    if any(pattern.search(p.text) for p in posts):
        raise EditRefused([f"#{tag} is already in the thread"])
    bodies = [(p.text if p.state == "posted" else strip_numbering(p.text, style), p.state == "posted") for p in posts]
    body, tail = split_tail(bodies[-1][0])
    blocks = [b for b in tail.split("\n\n") if b]
    tag_blocks = [i for i, b in enumerate(blocks) if all(_TAG_TOKEN.match(t) for t in b.split())]
    if tag_blocks:
        blocks[tag_blocks[-1]] += f" #{tag}"
    else:
        # The formatter's order: body, hashtags, then the link.
        link_at = next((i for i, b in enumerate(blocks) if _URL_TOKEN.match(b.strip())), len(blocks))
        blocks.insert(link_at, f"#{tag}")
    bodies[-1] = (body + "".join("\n\n" + b for b in blocks), False)
    return _finish(item, bodies, style)


def _finish(item: Any, bodies: list[tuple[str, bool]], style: str) -> list[str]:
    """Number the posts for their new count and check each unpublished one fits (EditRefused)."""
    if not bodies:
        raise EditRefused(["a thread needs at least one post"])
    platform = counter_for(item)
    cw = content_warning(item, platform)
    total = len(bodies)
    texts: list[str] = []
    problems: list[str] = []
    for index, (body, is_posted) in enumerate(bodies, 1):
        if is_posted:
            texts.append(body)
            continue
        text = apply_numbering(body.strip(), style, index, total)
        count = count_post(platform, text, cw)
        if not count.fits:
            over = count.length - count.limit
            what = f"{count.label} characters" if count.extra is None else count.label
            hint = f"{over} over" if over > 0 else "over the byte cap"
            problems.append(f"post {index} is {what} on {platform.name} ({hint}): shorten it or split it")
        texts.append(text)
    if problems:
        raise EditRefused(problems)
    return texts


def _merge_tails(first: str, second: str) -> str:
    """The closing blocks of two joined posts: hashtags merged into one line, then a link once."""
    tags: list[str] = []
    links: list[str] = []
    for block in (first + second).split("\n\n"):
        tokens = block.split()
        if not tokens:
            continue
        if all(_TAG_TOKEN.match(t) for t in tokens):
            tags.extend(t for t in tokens if t not in tags)
        elif block.strip() not in links:
            links.append(block.strip())
    out = ("\n\n" + " ".join(tags)) if tags else ""
    return out + "".join("\n\n" + link for link in links)


def _clean_tag(tag: str) -> str:
    cleaned = (tag or "").strip().lstrip("#")
    if not cleaned or any(ch.isspace() or ch == "#" for ch in cleaned):
        raise EditRefused([f"{tag!r} is not a hashtag (one word, e.g. #Ukraine)"])
    return cleaned
