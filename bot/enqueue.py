"""Turn a campaign's articles into queue items: format per account, then store on the next free slot."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.errors import BadInput


@dataclass(frozen=True)
class EnqueueReport:
    """What happened to one (article, account) pair; `action` is the store's outcome."""

    source: str
    account: str
    action: str
    item_id: int | None
    due_at: datetime | None
    posts: int
    message: str


class AccountSchedule:
    """A campaign schedule seen from one account (its offset applied), as the store expects it."""

    def __init__(self, schedule, account) -> None:  # noqa: ANN001 - campaign types, imported lazily
        self._schedule = schedule
        self._account = account

    def next_slot(self, after: datetime) -> datetime:
        return self._schedule.next_slot(after, self._account)

    @property
    def offset(self):  # noqa: ANN201 - a timedelta
        """The account's offset from the campaign's slots (`together` compares slots without it)."""
        return getattr(self._account, "offset", None)


def headline(article, width: int = 80) -> str:  # noqa: ANN001
    """A title for listings when the article has none: the start of its body, cut at a word."""
    first = article.paragraphs[0] if article.paragraphs else ""
    if len(first) <= width:
        return first
    return first[: width - 1].rsplit(" ", 1)[0] + "…"


def platform_for(account, **overrides):  # noqa: ANN001, ANN003, ANN201
    """The platform profile used to format for `account`: its `limit`/`url_length` settings, then
    `overrides` (a --limit flag, the resolved server limits); None values are ignored."""
    from bot.platforms import get_platform

    chosen = {key: account.settings[key] for key in ("limit", "url_length") if account.settings.get(key)}
    chosen.update({key: value for key, value in overrides.items() if value})
    return get_platform(account.profile, **chosen)


_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"))


def image_kind(path) -> str | None:  # noqa: ANN001
    """`png`, `jpeg`, `gif` or `webp` from the file's first bytes; None for anything else."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in _IMAGE_MAGIC if head.startswith(magic)), None)


def media_entries(article, profile: str, limits=None) -> list[dict]:  # noqa: ANN001
    """The article's media as stored with the item: path, alt and sha256 (checked before posting).

    Raises BadInput (naming the article) for a missing file or one over the platform's limits
    (`limits`, a server's own, else its plug-in's `media`: checked at enqueue so a thread never
    stalls on its image).
    """
    from bot.platforms import get_plugin
    from bot.publisher import media_fingerprint

    limits = limits or get_plugin(profile).media
    count, max_bytes, max_alt = limits.count, limits.max_bytes, limits.max_alt
    where = article.path or "<article>"
    if len(article.media) > count:
        raise BadInput(f"{where}: {len(article.media)} media files; {profile} takes at most {count} per post")
    entries = []
    for media in article.media:
        path = media.path
        if not path.is_file():
            raise BadInput(f"{where}: media file {path} does not exist")
        kind = image_kind(path)
        if kind is None:
            raise BadInput(f"{where}: media file {path} is not an image (PNG, JPEG, GIF or WebP)")
        size = path.stat().st_size
        if size > max_bytes:
            raise BadInput(f"{where}: media file {path} is {size:,} bytes; {profile} takes at most {max_bytes:,}")
        if len(media.alt) > max_alt:
            raise BadInput(f"{where}: alt text of {path.name} is {len(media.alt)} characters; "
                           f"{profile} takes at most {max_alt}")
        entries.append({"path": str(path.resolve()), "alt": media.alt, "sha256": media_fingerprint(path)})
    return entries


def enqueue_articles(*args: Any, **kwargs: Any) -> list[EnqueueReport]:
    """`iter_enqueue` (same arguments) run to the end: every report at once."""
    return list(iter_enqueue(*args, **kwargs))


def iter_enqueue(
    campaign,  # noqa: ANN001
    store,  # noqa: ANN001
    articles: Iterable,  # SourceArticle
    *,
    accounts: Sequence[str] | None = None,
    at: datetime | None = None,
    force: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
    limits=None,  # noqa: ANN001 - bot.live_limits.LiveLimits
) -> Iterator[EnqueueReport]:
    """Format every article for every selected account, then enqueue the threads, yielding reports.

    Every thread is formatted (and its media checked) before anything is written, and all are
    stored in one transaction, so bad input or a failure leaves the queue untouched. Formatting uses the account's limits, so the stored posts are
    exactly what will go out. With `dry_run`, the store says what it would do and keeps nothing.
    `limits` (a `LiveLimits`) gives each account's server limits (a Mastodon instance's own);
    without it, or for a server that cannot be read, the configured limits hold.
    """
    from bot.format_check import format_checked
    from bot.store import NewItem

    selected = _select_accounts(campaign, accounts)
    planned: list[tuple[NewItem, object, int]] = []
    for source_article in articles:
        article = source_article.article
        for account in selected:
            resolved = limits.resolve(account) if limits is not None else None
            platform = platform_for(account, **(resolved.overrides if resolved else {}))
            thread = format_checked(article, platform, campaign.format_options(account.profile))
            new = NewItem(
                campaign=campaign.name,
                account=account.name,
                platform=account.platform,
                source=source_article.source,
                content_hash=article.content_hash,
                title=article.title or headline(article),
                posts=[post.text for post in thread.posts],
                media=media_entries(article, account.profile, resolved.media if resolved else None),
                options={"timezone": campaign.timezone.key, "cw": article.cw, "url": article.url,
                         "quiet_hours": [q.text for q in campaign.schedule.quiet_hours],
                         **desk_options(campaign, account, platform)},
                lang=article.lang,
            )
            planned.append((new, account, len(thread.posts)))
    # One transaction for the whole run: all queued or none, and a dry run that sees its own
    # earlier steps (slots taken, cursors moved) before it is rolled back.
    outcomes = store.enqueue_many(
        [(new, AccountSchedule(campaign.schedule, account)) for new, account, _ in planned],
        at=at,
        now=now,
        force=force,
        dry_run=dry_run,
        together=getattr(campaign, "together", None),
    )
    for (new, _, count), outcome in zip(planned, outcomes):
        yield EnqueueReport(
            source=new.source,
            account=new.account,
            action=outcome.action,
            item_id=outcome.item.id if outcome.item else None,
            due_at=outcome.item.due_at if outcome.item else None,
            posts=count,
            message=outcome.message,
        )


def desk_options(campaign, account, platform) -> dict:  # noqa: ANN001
    """What the desk needs later to edit and approve the stored thread the way it was formatted:
    the review rule, the counting profile and its limits, the numbering style and the grace."""
    options = {
        "review": campaign.review_for(account),
        "profile": account.profile,
        "limit": platform.limit,
        "numbering": campaign.format_options(account.profile).numbering,
        "grace_s": int(campaign.grace.total_seconds()),
    }
    if getattr(platform, "url_length", None) is not None and "url_length" in getattr(platform, "overrides", ()):
        options["url_length"] = platform.url_length
    if getattr(platform, "counting", "mastodon") != "mastodon":
        options["counting"] = platform.counting  # the server counts as written (GoToSocial, Akkoma)
    return options


def _select_accounts(campaign, names: Sequence[str] | None) -> list:  # noqa: ANN001
    if not names:
        return list(campaign.accounts.values())
    unknown = [name for name in names if name not in campaign.accounts]
    if unknown:
        known = ", ".join(sorted(campaign.accounts))
        raise BadInput(f"{campaign.path}: no account {unknown[0]!r} in campaign {campaign.name} (it has: {known})")
    return [campaign.accounts[name] for name in names]
