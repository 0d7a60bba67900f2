"""`crieur enqueue`: format a campaign's articles and put them in the queue on free slots."""

from __future__ import annotations

import argparse

from bot.commands.common import add_db_option, add_dry_run_option, open_store_for, store_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "enqueue",
        help="queue a campaign's articles on its posting slots",
        description="Format ARTICLEs (default: what the campaign's sources have that is not queued yet) "
        "for every account of CAMPAIGN and queue them on the next free slots.",
    )
    parser.add_argument("campaign", metavar="CAMPAIGN", help="campaign YAML file")
    parser.add_argument("articles", nargs="*", metavar="ARTICLE", help="article files")
    parser.add_argument("--at", metavar="TIME", help="post at TIME (ISO 8601, campaign zone if no offset) or 'now'")
    parser.add_argument("--account", action="append", metavar="NAME", help="only this account (repeatable)")
    parser.add_argument("--force", action="store_true", help="queue again even if already queued or published")
    parser.add_argument("--check", action="store_true", help="say what would be queued; change nothing")
    add_dry_run_option(parser, "queue into the dry-run store (queue/dryrun.db), which `crieur run --dry-run` serves")
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from datetime import datetime, timezone
    from pathlib import Path

    from bot.article import load_article
    from bot.campaign import load_campaign
    from bot.enqueue import iter_enqueue
    from bot.sources import SourceArticle
    from bot.timefmt import format_local, parse_at

    campaign = load_campaign(args.campaign)
    now = datetime.now(timezone.utc)
    at = parse_at(args.at, campaign.timezone, now=now) if args.at else None
    if args.check and _store_missing(store_option(args)):
        # A check changes nothing, not even by creating the store: it plays on an empty copy.
        import tempfile

        from bot.store import open_store

        store = open_store(str(Path(tempfile.mkdtemp(prefix="crieur-dry-")) / "crieur.db"))
    else:
        store = open_store_for(args, announce=not args.check)
    source_errors: list = []
    polled = None
    if args.articles:
        articles = [
            SourceArticle(source=str(Path(path).resolve()), article=load_article(path, default_lang=campaign.lang))
            for path in args.articles
        ]
    else:
        from bot.sources import campaign_articles

        # Record what the sources yielded only once it is safely queued (and never on a check).
        polled = campaign_articles(campaign, store, commit=False)
        articles = list(polled)
        source_errors = list(polled.errors)
    from bot.live_limits import LiveLimits
    from bot.locations import resolve_store_url, state_dir_for_store

    # Each account's server limits (a Mastodon instance's own), read now or kept from the last hour.
    # (A --check keeps nothing on disk, the limits it reads included.)
    limits = LiveLimits(None if args.check else state_dir_for_store(resolve_store_url(store_option(args))),
                        warn=lambda message: print(f"crieur: warning: {message}; the configured limits are used",
                                                   file=sys.stderr))
    reports = iter_enqueue(
        campaign, store, articles, accounts=args.account, at=at, force=args.force, dry_run=args.check, now=now,
        limits=limits,
    )
    would = "would be " if args.check else ""
    verb = {"queued": f"{would}queued", "reformatted": f"{would}re-formatted in place",
            "duplicate": "already queued, nothing to do", "already_published": "already published, not posted again",
            "cancelled": "cancelled earlier, not queued again (--force to queue it)"}
    printed = 0
    for report in reports:  # all stored (one transaction) before the first line is printed
        printed += 1
        when = format_local(report.due_at, campaign.timezone)
        ident = f"#{report.item_id} " if report.item_id is not None else ""
        print(f"{ident}{report.account}: {Path(report.source).name}: "
              f"{verb.get(report.action, report.action)} ({report.posts} post{'s' if report.posts != 1 else ''}) for {when}")
    if polled is not None and not args.check:
        polled.commit()
    if args.articles and not args.dry_run:
        # The daemon's polling of `sources.files` must not queue these again for the accounts
        # this command left out (--account): an article enqueued by hand counts as seen.
        from bot.sources import FILES_SOURCE_KEY

        store.mark_seen(campaign.name, FILES_SOURCE_KEY, [a.source for a in articles])
    if not printed:
        print("nothing to enqueue")
    for error in source_errors:
        print(f"crieur: {error}", file=sys.stderr)
    return 1 if source_errors else 0


def _store_missing(db: str | None) -> bool:
    """True when the store `db` names is a SQLite file that does not exist yet."""
    from pathlib import Path

    from bot.store import resolve_store_url

    url = resolve_store_url(db)
    return url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists()
