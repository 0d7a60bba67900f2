"""`crieur preview`: the formatter's dry run — print the threads an article becomes."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="show the threads an article becomes on each platform",
        description="Format ARTICLE for each platform and print the threads; posts nothing.",
    )
    parser.add_argument("article", metavar="ARTICLE", help="article file (UTF-8 text)")
    parser.add_argument(
        "--platform", "-p", action="append", dest="platforms", metavar="P",
        help="platform to format for (x, mastodon, bluesky, dryrun or a plug-in's); repeatable; "
             "default: x, mastodon, bluesky",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--html", metavar="FILE",
                        help="also write the threads in each platform's look as one self-contained HTML file")
    parser.add_argument("--campaign", metavar="FILE",
                        help="read format options and language from a campaign file; without --platform, "
                             "show the thread of each of its accounts")
    parser.add_argument("--account", action="append", dest="accounts", metavar="NAME",
                        help="only this account of --campaign (its limits, and its server's when it says them); "
                             "repeatable")
    parser.add_argument("--limit", type=int, metavar="N", help="character limit override (e.g. 4000 for X Premium)")
    parser.add_argument("--lang", help="post in this language, whatever the article says or seems to be")
    parser.add_argument("--numbering", choices=["suffix", "prefix", "thread", "none"])
    parser.add_argument("--link", choices=["first", "last", "none"])
    parser.add_argument("--max-posts", type=int, metavar="N")
    parser.add_argument("--max-tags", type=int, metavar="N", help="hashtags per thread")
    parser.add_argument("--max-per-post", type=int, metavar="N", help="hashtags per post")
    parser.add_argument("--max-tag-chars", type=int, metavar="N", help="characters the hashtags may add")
    parser.add_argument("--placement", choices=["inline", "end", "start", "spread", "inline+end"])
    parser.add_argument(
        "--cut", choices=["readable", "compact"],
        help="readable: posts end at sentence and clause ends (default); compact: the fewest posts",
    )
    parser.set_defaults(handler=run, logs=False)  # preview never logs: no logging set-up


def run(args: argparse.Namespace) -> int:
    from bot.article import load_article
    from bot.errors import BadInput
    from bot.format_check import format_checked

    for name in ("limit", "max_posts", "max_tags", "max_per_post", "max_tag_chars"):
        value = getattr(args, name)
        if value is not None and value < (1 if name in ("limit", "max_posts") else 0):
            raise BadInput(f"--{name.replace('_', '-')}: must be positive, got {value}")
    campaign = None
    if args.campaign:
        from bot.campaign import load_campaign

        campaign = load_campaign(args.campaign)
    elif args.accounts:
        raise BadInput("--account: name the campaign it belongs to with --campaign FILE")
    if args.accounts and args.platforms:
        raise BadInput("--account and --platform: give one or the other (an account has its platform)")
    article = load_article(args.article, lang=args.lang, default_lang=campaign.lang if campaign else None)
    targets = _targets(args, campaign)
    threads = []
    for target in targets:
        if article.media:
            from bot.enqueue import media_entries

            # A missing, non-image or oversize file: an error now, not at enqueue.
            media_entries(article, target.profile, target.media)
        threads.append(format_checked(article, target.platform, target.options))
    if args.html:
        _write_html(args.html, article, threads, targets)
    if args.json:
        import json

        json.dump(_as_json(article, threads, targets), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif args.html:
        print(f"preview written to {args.html} ({len(threads)} thread{'s' if len(threads) != 1 else ''})")
    else:
        _print_human(article, threads, targets)
    return 0


@dataclass
class _Target:
    """What one previewed thread is formatted for: an account of the campaign, or a platform."""

    profile: str
    platform: Any
    options: Any
    account: Any = None
    media: Any = None  # the media limits when they differ from the plug-in's (a server's own)
    notes: list[str] = field(default_factory=list)  # shown under the header (where a limit came from)
    markdown: str | None = None  # the server's name when it renders post text as Markdown (Hollo)

    def markdown_warnings(self, thread: Any) -> list[dict[str, Any]]:
        """Per post, what a Markdown-rendering server would show differently from the text."""
        if self.markdown is None:
            return []
        from bot.markdown_risk import markdown_changes

        found = ((post.index, markdown_changes(post.text)) for post in thread.posts)
        return [{"post": index, "changes": changes} for index, changes in found if changes]

    @property
    def name(self) -> str:
        return self.account.name if self.account is not None else self.profile


def _targets(args: argparse.Namespace, campaign: Any) -> list[_Target]:
    """`--account` names, else `--platform` names, else the campaign's accounts, else the defaults."""
    from bot.errors import BadInput
    from bot.platforms import get_platform
    from bot.platforms.registry import default_preview_names

    if args.accounts or (campaign is not None and not args.platforms):
        names = args.accounts or list(campaign.accounts)
        unknown = [n for n in names if n not in campaign.accounts]
        if unknown:
            raise BadInput(f"--account {unknown[0]}: {args.campaign} has no such account "
                           f"(its accounts: {', '.join(campaign.accounts)})")
        from bot.locations import resolve_store_url, state_dir_for_store
        from bot.live_limits import LiveLimits

        # Named accounts: their servers are asked (kept an hour, beside the store's sessions);
        # the whole campaign: only what is kept, so a preview goes over the network only when asked.
        limits = LiveLimits(state_dir_for_store(resolve_store_url(None)))
        return [_account_target(args, campaign, campaign.accounts[n], limits, fetch=bool(args.accounts))
                for n in dict.fromkeys(names)]
    targets = []
    for name in args.platforms or default_preview_names():
        overrides = {"limit": args.limit} if args.limit else {}
        targets.append(_Target(name, get_platform(name, **overrides), _options(args, name, campaign)))
    return targets


def _account_target(args: argparse.Namespace, campaign: Any, account: Any, limits: Any, *, fetch: bool) -> _Target:
    from bot.enqueue import platform_for

    resolved = limits.resolve(account, limit_flag=args.limit, fetch=fetch)
    platform = platform_for(account, **resolved.overrides)
    notes = [resolved.note] if resolved.note else []
    server = resolved.server
    return _Target(account.profile, platform, _options(args, account.profile, campaign), account=account,
                   media=resolved.media, notes=notes,
                   markdown=server.markdown_renderer if server is not None else None)


def _write_html(path: str, article: Any, threads: list[Any], targets: list[_Target]) -> None:
    """The desk's platform-look preview as one HTML file (styles and images inlined), written atomically."""
    import os
    import tempfile
    from datetime import datetime
    from pathlib import Path

    from bot.errors import BadInput
    from bot.web import render

    media = [{"path": str(m.path), "alt": m.alt} for m in article.media]
    inline = [render.data_uri(m["path"]) for m in media]
    previews = []
    for thread, shown in zip(threads, targets):
        previews.append({
            "look": render.look_for(shown.name, thread.platform, shown.account),
            "cards": render.thread_cards(thread, shown.platform, media, markdown=shown.markdown),
            "thread": thread,
            "inline_media": inline,
        })
    html = render.make_environment().get_template("standalone.html").render(
        css=render.stylesheet(), previews=previews, title=article.title or Path(article.path or "article").name,
        source=article.path or "", lang=article.lang, made=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    )
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(html)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file to mail or publish, not mkstemp's 0600
        os.replace(tmp, target)
    except OSError as error:
        raise BadInput(f"--html {path}: cannot write it: {error.strerror}") from None


def _options(args: argparse.Namespace, platform: str, campaign: Any) -> Any:
    """The platform's defaults, then the campaign's `format` section, then the flags."""
    from dataclasses import replace

    from bot.formatter import HashtagBudget, default_options

    options = campaign.format_options(platform) if campaign else default_options(platform)
    changes = {
        key: value
        for key, value in (
            ("numbering", args.numbering), ("link", args.link), ("max_posts", args.max_posts), ("cut", args.cut)
        )
        if value is not None
    }
    budget = options.hashtags or HashtagBudget()
    tag_changes = {
        key: value
        for key, value in (
            ("max_tags", args.max_tags),
            ("max_per_post", args.max_per_post),
            ("max_chars", args.max_tag_chars),
            ("placement", args.placement),
        )
        if value is not None
    }
    if tag_changes:
        changes["hashtags"] = replace(budget, **tag_changes)
    return replace(options, **changes)


def _as_json(article: Any, threads: list[Any], targets: list[_Target]) -> dict[str, Any]:
    return {
        "article": {"path": article.path, "title": article.title, "lang": article.lang,
                    "lang_source": article.lang_source, "url": article.url},
        "threads": [
            {
                "account": target.account.name if target.account is not None else None,
                "platform": thread.platform,
                "limit": thread.limit,
                "notes": target.notes,
                "lang": article.lang,  # the language tag the posts are sent with
                "posts": [{"index": post.index, "text": post.text, "length": post.length,
                           "media": _media_json(article) if post.index == 1 else []} for post in thread.posts],
                "hashtags": {
                    "used": list(thread.hashtags_used),
                    "dropped": [{"tag": d.tag, "reason": d.reason} for d in thread.hashtags_dropped],
                },
                "breaks": break_summary(thread),
                "markdown_warnings": target.markdown_warnings(thread),
            }
            for thread, target in zip(threads, targets)
        ],
    }


def _print_human(article: Any, threads: list[Any], targets: list[_Target]) -> None:
    out = sys.stdout
    title = article.title or article.path
    for thread, target in zip(threads, targets):
        platform = target.platform
        count = len(thread.posts)
        who = f"{target.account.name} ({thread.platform})" if target.account is not None else thread.platform
        header = f"── {who} · {count} post{'s' if count != 1 else ''} · limit {thread.limit} "
        out.write(f"{header}{'─' * max(0, 72 - len(header))}\n")
        for note in target.notes:
            out.write(f"   {note}\n")
        warnings = {w["post"]: w["changes"] for w in target.markdown_warnings(thread)}
        if title:
            out.write(f"   {title}\n")
        out.write(f"   {_language_line(article)}\n")
        for post in thread.posts:
            out.write(f"\n[{post.index}/{count}]  {post.length}/{thread.limit}\n")
            if getattr(post, "cw", None):
                out.write(f"CW: {post.cw}\n")  # shown first by Mastodon, and counted in the length
            out.write(platform.display(post.text) + "\n")
            if post.index in warnings:
                from bot.markdown_risk import warning_line

                out.write(f"! {warning_line(target.markdown or '', warnings[post.index])}\n")
            if post.index == 1:
                for media in article.media:  # uploaded with the first post
                    out.write(f"media: {media.path.name} (alt: {media.alt or 'none'})\n")
        out.write(f"\n{summary_line(thread)}\n")
        used = " ".join(f"#{tag}" for tag in thread.hashtags_used) or "none"
        out.write(f"hashtags used: {used}\n")
        for dropped in thread.hashtags_dropped:
            out.write(f"hashtag dropped: #{dropped.tag} ({dropped.reason})\n")
        out.write("\n")


def _language_line(article: Any) -> str:
    """`posted in: de (detected)` — the language tag the platform gets, and how it was chosen."""
    if not article.lang:
        return "posted in: no language tag (the article, the detector and the campaign do not say)"
    return f"posted in: {article.lang} ({article.lang_source})" if article.lang_source else f"posted in: {article.lang}"


def _media_json(article: Any) -> list[dict[str, str]]:
    return [{"path": str(media.path), "alt": media.alt} for media in article.media]


def break_summary(thread: Any) -> dict[str, int]:
    """How many breaks fell at sentence ends (paragraph ends included), clause ends, and elsewhere."""
    kinds = list(thread.breaks)
    paragraph = kinds.count("paragraph")
    sentence = kinds.count("sentence") + paragraph
    clause = kinds.count("clause")
    return {
        "sentence_ends": sentence,
        "clause_ends": clause,
        "elsewhere": len(kinds) - sentence - clause,
        "paragraph_ends": paragraph,
        "inside_words": kinds.count("word"),
    }


def summary_line(thread: Any) -> str:
    """The one-line summary of a thread: posts and the quality of its breaks."""
    count = len(thread.posts)
    s = break_summary(thread)
    breaks = count - 1 if count else 0
    line = f"{count} post{'s' if count != 1 else ''}, {breaks} break{'s' if breaks != 1 else ''}"
    if breaks:
        line += f": {s['sentence_ends']} at sentence ends, {s['clause_ends']} at clause ends, {s['elsewhere']} elsewhere"
        if s["inside_words"]:
            line += f" ({s['inside_words']} inside words)"
    return line
