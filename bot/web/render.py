"""What the desk's templates show: posts as their platform displays them, counted, with tags and links marked."""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from bot.errors import BadInput
from bot.platforms.registry import get_plugin, label_of

if TYPE_CHECKING:
    from bot.editing import PostCount

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

# For marking only (counting is bot.platforms' job): links with a scheme, and #tags of letters,
# marks, digits and underscores after a non-word character.
_MARKS = re.compile(r"(?P<url>https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'’»])|(?<![\w#&/])(?P<tag>#[^\W_][\w]*|#_[\w]+)")


STATE_LABELS = {
    "awaiting_review": "awaiting review",
    "scheduled": "scheduled",
    "publishing": "publishing",
    "published": "published",
    "failed": "failed",
    "needs_review": "needs review",
    "cancelled": "cancelled",
    "rejected": "rejected",
}


def marked(text: str, links: Sequence[str] = ()) -> Markup:
    """`text` as HTML, links and hashtags wrapped in spans (everything else escaped). `links`: more
    strings shown as links (Bluesky shows a link shortened, without its scheme)."""
    pattern = _MARKS
    if links:
        extra = "|".join(re.escape(link) for link in sorted(set(links), key=len, reverse=True))
        pattern = re.compile(f"(?P<url>{extra})|" + _MARKS.pattern.replace("(?P<url>", "(?P<url2>", 1))
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[last : match.start()])))
        url = match.group("url") or (match.groupdict().get("url2"))
        if url:
            out.append(f'<span class="link">{escape(url)}</span>')
        else:
            out.append(f'<span class="tag">{escape(match.group("tag"))}</span>')
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


@dataclass
class Card:
    """One post as a card: platform look, display text, its count and where it stands."""

    index: int
    total: int
    text: str  # as stored (what the editor edits)
    display: str  # as the platform shows it (Bluesky shortens links)
    count: PostCount
    state: str = "pending"
    url: str | None = None
    remote_id: str | None = None
    posted_at: datetime | None = None
    cw: str | None = None
    media: list[dict[str, Any]] = field(default_factory=list)

    links: list[str] = field(default_factory=list)
    #: what will not read as written (a Markdown-rendering server's changes), one line each
    warnings: list[str] = field(default_factory=list)

    @property
    def html(self) -> Markup:
        return marked(self.display, self.links)

    @property
    def editable(self) -> bool:
        return self.state != "posted"



@dataclass
class Look:
    """How an account appears on its platform: the look's name, the name and handle shown."""

    profile: str
    name: str
    handle: str

    @property
    def label(self) -> str:
        return label_of(self.profile)


def look_for(account_name: str, profile: str, account: Any = None) -> Look:
    """The display name and handle of an account as its platform would show them."""
    settings = dict(getattr(account, "settings", {}) or {})
    try:
        handle = get_plugin(profile).handle(account_name, settings)
    except BadInput:  # a platform no longer installed: its items still show
        handle = "@" + account_name
    return Look(profile=profile, name=account_name, handle=handle)


def shown_links(platform: Any, text: str) -> list[str]:
    """The links of `text` as the platform displays them (shortened on Bluesky)."""
    found = [m.group("url") for m in _MARKS.finditer(text) if m.group("url")]
    return [platform.display(url) for url in found if platform.display(url) != url]


def markdown_warnings(text: str, markdown: str | None) -> list[str]:
    """`markdown`: the name of a server that renders post text as Markdown (Hollo), or None."""
    if not markdown:
        return []
    from bot.markdown_risk import markdown_changes, warning_line

    changes = markdown_changes(text)
    return [warning_line(markdown, changes)] if changes else []


def item_cards(item: Any, markdown: str | None = None) -> list[Card]:
    """The item's stored posts as cards, counted by the platform the thread was formatted for;
    with `markdown` (a server's name), the posts it would not show as written say so."""
    from bot.editing import content_warning, count_post, counter_for  # (the platforms load on first use)

    platform = counter_for(item)
    cw = content_warning(item, platform)
    total = len(item.posts)
    cards = []
    for post in item.posts:
        cards.append(Card(
            index=post.index, total=total, text=post.text, display=platform.display(post.text),
            count=count_post(platform, post.text, cw), state=str(post.state), url=post.url,
            remote_id=post.remote_id, posted_at=post.posted_at, cw=cw,
            media=list(item.media) if post.index == 1 else [], links=shown_links(platform, post.text),
            warnings=markdown_warnings(post.text, markdown) if post.state != "posted" else [],
        ))
    return cards


def count_drafts(item: Any, cards: list[Card], drafts: Sequence[str]) -> None:
    """Give the editable cards the counts of the person's drafts (a refused edit is shown as typed)."""
    from bot.editing import SPLIT_LINE, content_warning, count_post, counter_for

    platform = counter_for(item)
    cw = content_warning(item, platform)
    for card, draft in zip(cards, drafts):
        if not card.editable:
            continue
        pieces = [p.strip() for p in SPLIT_LINE.split(str(draft).replace("\r\n", "\n")) if p.strip()] or [""]
        counts = [count_post(platform, p, cw) for p in pieces]
        worst = max(counts, key=lambda c: (not c.fits, c.length))
        card.count = worst


def thread_cards(thread: Any, platform: Any, media: list[dict[str, Any]] | None = None,
                 markdown: str | None = None) -> list[Card]:
    """A formatter Thread (preview) as cards (`markdown`: as for `item_cards`)."""
    from bot.editing import count_post

    total = len(thread.posts)
    return [
        Card(index=p.index, total=total, text=p.text, display=platform.display(p.text),
             count=count_post(platform, p.text, p.cw), cw=p.cw,
             media=list(media or []) if p.index == 1 else [], links=shown_links(platform, p.text),
             warnings=markdown_warnings(p.text, markdown))
        for p in thread.posts
    ]


def local_time(moment: datetime | None, zone: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone).strftime(fmt)


def data_uri(path: str, max_bytes: int = 2_000_000) -> str | None:
    """The image at `path` as a data: URI (for the self-contained preview), None if too big or absent."""
    try:
        file = Path(path)
        if not file.is_file() or file.stat().st_size > max_bytes:
            return None
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return f"data:{kind};base64," + base64.b64encode(file.read_bytes()).decode()
    except OSError:
        return None


def make_environment() -> Any:
    """The Jinja2 environment of the desk's templates (autoescaped HTML)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(platform_label=label_of, STATE_LABELS=STATE_LABELS)
    env.filters["marked"] = marked
    env.filters["hashtag"] = lambda tag: "#" + str(tag).lstrip("#")
    return env


def stylesheet() -> Markup:
    """The desk's CSS, inlined into pages (one request per page, and the same file for --html)."""
    return Markup((STATIC / "desk.css").read_text(encoding="utf-8"))


def script() -> Markup:
    return Markup((STATIC / "desk.js").read_text(encoding="utf-8"))
