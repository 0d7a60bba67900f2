"""`crieur queue list|show|cancel|retry|reschedule|resolve`: look at and steer the queue."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any
from zoneinfo import ZoneInfo

from bot.commands.common import add_db_option, add_dry_run_option, open_store_for

STATES = ["scheduled", "publishing", "published", "failed", "cancelled", "needs_review", "awaiting_review",
          "rejected"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("queue", help="list, show and steer queued threads")
    actions = parser.add_subparsers(dest="queue_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list queued threads")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--campaign", metavar="NAME")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="show a thread's posts as they will appear")
    show.add_argument("id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)

    for name, help_text, handler in (
        ("cancel", "cancel a thread that was not published (or every thread of --article)", run_cancel),
        ("retry", "schedule a failed or needs_review thread again, due now", run_retry),
    ):
        action = actions.add_parser(name, help=help_text)
        if name == "cancel":
            _add_target(action)
        else:
            action.add_argument("id", type=int, metavar="ID")
        action.set_defaults(handler=handler)

    reschedule = actions.add_parser("reschedule", help="move a scheduled thread (or every thread of --article) "
                                    "to another time")
    _add_target(reschedule)
    reschedule.add_argument("--force", action="store_true",
                            help="accept a time in the past or in the campaign's quiet hours")
    reschedule.add_argument("--at", required=True, metavar="TIME", help="ISO 8601 (campaign zone if no offset) or now")
    reschedule.set_defaults(handler=run_reschedule)

    approve = actions.add_parser(
        "approve", help="approve threads awaiting review (they go out on their slot)",
        description="Approve threads that wait for a person (campaign or account with `review: required`). "
        "A thread approved after its slot goes at once within the campaign's grace, else it takes its "
        "account's next free slot (or goes now with --now).",
    )
    approve.add_argument("ids", type=int, nargs="+", metavar="ID")
    approve.add_argument("--by", required=True, metavar="NAME", help="who approves (kept in the history)")
    approve.add_argument("--now", action="store_true", help="a thread whose slot has passed goes out at once")
    approve.add_argument("--config", metavar="DIR", help="campaign files: DIR/*.yaml (default: config/campaigns)")
    approve.set_defaults(handler=run_approve)

    reject = actions.add_parser("reject", help="refuse a thread awaiting review: it is never published")
    reject.add_argument("id", type=int, metavar="ID")
    reject.add_argument("--reason", required=True, help="why (kept in the history)")
    reject.add_argument("--by", required=True, metavar="NAME", help="who rejects")
    reject.set_defaults(handler=run_reject)

    resolve = actions.add_parser(
        "resolve",
        help="settle a post whose outcome is unknown (needs_review): it went out, or it did not",
        description="Say whether a post Crieur could not decide went out. With --posted, the post is "
        "recorded with the URL you give (and the remote id taken from it, or --remote-id) and the "
        "thread continues with the next post as a reply to it; with --not-posted, the post will be "
        "sent again. Either way the thread is due at once.",
    )
    resolve.add_argument("id", type=int, metavar="ID")
    outcome = resolve.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--posted", metavar="URL", help="the post is on the platform, at URL")
    outcome.add_argument("--not-posted", action="store_true", help="the post is not on the platform")
    resolve.add_argument("--post", type=int, metavar="N",
                         help="which post (1-based; default: the one in doubt, else the first not posted)")
    resolve.add_argument("--remote-id", metavar="ID",
                         help="the platform's id of the post, when the URL does not give it")
    resolve.set_defaults(handler=run_resolve)

    for action in (listing, show, *actions.choices.values()):
        if not any(a.dest == "db" for a in action._actions):
            add_db_option(action)
            add_dry_run_option(action)


def _zone(item: Any) -> ZoneInfo:
    name = (item.options or {}).get("timezone") or "UTC"
    try:
        return ZoneInfo(name)
    except Exception:  # a store written elsewhere may name a zone this machine lacks
        return ZoneInfo("UTC")


def _item_json(item: Any, *, with_posts: bool, attempts: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """The item as JSON; with `with_posts`, its posts and its `attempts` history too."""
    from bot.timefmt import iso

    zone = _zone(item)
    data: dict[str, Any] = {
        "id": item.id,
        "campaign": item.campaign,
        "account": item.account,
        "platform": item.platform,
        "source": item.source,
        "title": item.title,
        "state": item.state,
        "due_at": iso(item.due_at, zone),
        "attempts": item.attempts,
        "next_attempt_at": iso(item.next_attempt_at, zone) if item.state in ("scheduled", "publishing") else None,
        "last_error": item.last_error,
        "lang": item.lang,
    }
    if with_posts:
        data["attempts"] = [
            {
                "at": iso(attempt.at, zone),
                "post": attempt.post_index,
                "outcome": attempt.outcome,
                "message": attempt.message,
                "remote_id": attempt.remote_id,
            }
            for attempt in attempts
        ]
        data["media"] = [{"path": m.get("path"), "alt": m.get("alt", "")} for m in item.media]
        data["posts"] = [
            {
                "index": post.index,
                "text": post.text,
                "state": post.state,
                "remote_id": post.remote_id,
                "url": post.url,
                "posted_at": iso(post.posted_at, zone),
            }
            for post in item.posts
        ]
    return data


def run_list(args: argparse.Namespace) -> int:
    from bot.timefmt import format_local

    store = open_store_for(args, announce=False, must_exist=True)
    items = store.list_items(state=args.state, campaign=args.campaign)
    paused = {s.account: s for s in store.paused_accounts()}
    if args.json:
        rows = []
        for item in items:
            row = _item_json(item, with_posts=False)
            row["account_paused"] = paused[item.account].pause_reason if item.account in paused else None
            rows.append(row)
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    if not items:
        print("the queue is empty" if not (args.state or args.campaign) else "no matching items")
        return 0
    table: list[tuple[str, ...]] = [("ID", "STATE", "DUE", "CAMPAIGN/ACCOUNT", "POSTS", "LANG", "TITLE")]
    for item in items:
        label = item.title or item.source
        # Threads of a paused account are kept, not failed: say why they wait.
        waits = " [account paused]" if item.account in paused and item.state == "scheduled" else ""
        table.append((str(item.id), str(item.state), format_local(item.due_at, _zone(item)),
                     f"{item.campaign}/{item.account}{waits}", str(len(item.posts)), item.lang or "-", label))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    for line in table:
        cells = [cell.rjust(widths[0]) if i == 0 else cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])]
        print("  ".join(cells + [line[-1]]).rstrip())
    if any(item.account in paused for item in items):
        print("\npaused accounts (see `crieur accounts status`):")
        for name in sorted({item.account for item in items if item.account in paused}):
            print(f"  {name}: {paused[name].pause_reason}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone
    from pathlib import Path

    from bot.platforms import get_platform
    from bot.timefmt import format_local

    store = open_store_for(args, announce=False, must_exist=True)
    item = store.get_item(args.id)
    attempts = store.attempts(item.id)
    if args.json:
        json.dump(_item_json(item, with_posts=True, attempts=attempts), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    zone = _zone(item)
    print(f"item {item.id}: {item.state} — {item.campaign}/{item.account} ({item.platform})")
    print(f"source: {item.source}")
    if item.title:
        print(f"title: {item.title}")
    print(f"due: {format_local(item.due_at, zone)}   attempts: {item.attempts}")
    print(f"posted in: {item.lang or 'no language tag'}")
    if item.next_attempt_at and item.state in ("scheduled", "publishing") and item.next_attempt_at > item.due_at:
        print(f"next attempt: {format_local(item.next_attempt_at, zone)}")
    if item.last_error:
        print(f"last error: {item.last_error}")
    account = store.account_state(item.account)
    if account.is_paused(datetime.now(timezone.utc)):
        until = format_local(account.paused_until, zone) if account.paused_until else "resumed"
        print(f"account {item.account} paused until {until}: {account.pause_reason}")
    try:
        platform = get_platform(item.platform)
        display = platform.display
    except Exception:  # a third-party adapter's platform: show the raw text
        def display(text: str) -> str:
            return text
    total = len(item.posts)
    for post in item.posts:
        where = f" → {post.url or post.remote_id}" if (post.url or post.remote_id) else ""
        print(f"\n[{post.index}/{total}] {post.state}{where}")
        print(display(post.text))
        if post.index == 1:
            for media in item.media:  # uploaded with the first post
                print(f"media: {Path(media['path']).name} (alt: {media.get('alt') or 'none'})")
    print()
    print(_history_text(attempts, zone))
    return 0


def _history_text(attempts: list[Any], zone: ZoneInfo) -> str:
    """The attempts history, one line per event: time (campaign zone), post, outcome, message, remote id."""
    if not attempts:
        return "history: no publishing attempt yet"
    lines = ["history:"]
    for attempt in attempts:
        when = attempt.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        post = f"post {attempt.post_index}" if attempt.post_index is not None else "thread"
        line = f"  {when}  {post:<8}  {attempt.outcome:<12}"
        if attempt.remote_id:
            line += f"  {attempt.remote_id}"
        if attempt.message:
            line += f"  {attempt.message}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int, nargs="?", metavar="ID", help="the item (or use --article)")
    parser.add_argument("--article", metavar="PATH",
                        help="every thread of this article (on all accounts) that is not published or cancelled")
    parser.add_argument("--campaign", metavar="NAME", help="with --article: only in this campaign")


def _targets(args: argparse.Namespace, store: Any) -> list[Any]:
    """The items a cancel/reschedule acts on: ID, or the article's open threads (BadInput if none)."""
    from pathlib import Path

    from bot.errors import BadInput

    if (args.id is None) == (args.article is None):
        raise BadInput("give an item ID or --article PATH (one of them)")
    if args.id is not None:
        return [store.get_item(args.id)]
    source = str(Path(args.article).resolve())
    found = [i for i in store.list_items(campaign=args.campaign)
             if i.source in (source, args.article) and i.state in ("scheduled", "failed", "needs_review")]
    if not found:
        raise BadInput(f"--article {args.article}: no thread of it is waiting in the queue "
                       "(not queued, or already published or cancelled)")
    return found


def run_cancel(args: argparse.Namespace) -> int:
    from bot.store import InvalidTransition

    store = open_store_for(args, announce=True, must_exist=True)
    for item in _targets(args, store):
        if item.state == "cancelled":
            raise InvalidTransition(f"item {item.id} is already cancelled")
        store.cancel(item.id)
        print(f"item {item.id} ({item.account}) cancelled")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    store = open_store_for(args, announce=True, must_exist=True)
    store.retry(args.id)
    print(f"item {args.id} scheduled again, due now")
    return 0


def run_reschedule(args: argparse.Namespace) -> int:
    from bot.timefmt import format_local, parse_at

    store = open_store_for(args, announce=True, must_exist=True)
    targets = _targets(args, store)
    zone = _zone(targets[0])
    at = parse_at(args.at, zone)
    if not args.force:
        _refuse_odd_time(args, targets[0], at, zone)
    for item in targets:
        store.reschedule(item.id, at)
        print(f"item {item.id} ({item.account}) rescheduled for {format_local(at, zone)}")
    return 0


def _refuse_odd_time(args: argparse.Namespace, item: Any, at: Any, zone: ZoneInfo) -> None:
    """A time in the past, or in the campaign's quiet hours, is most likely a typo: BadInput unless --force."""
    from datetime import datetime, timedelta, timezone

    from bot.errors import BadInput
    from bot.timefmt import format_local

    now = datetime.now(timezone.utc)
    if args.at.strip().lower() != "now" and at < now - timedelta(minutes=1):
        raise BadInput(f"--at {args.at}: {format_local(at, zone)} is in the past; use --at now, or --force "
                       "to post it at once as if it had been due then")
    quiet = _quiet_hours_of(item)
    local = at.astimezone(zone).replace(tzinfo=None)
    for window in quiet:
        if window.contains(local):
            raise BadInput(f"--at {args.at}: {format_local(at, zone)} is in the campaign's quiet hours "
                           f"({window.text}); pick another time, or --force")


def _quiet_hours_of(item: Any) -> list[Any]:
    """The quiet hours of the item's campaign, as stored with it at enqueue."""
    from bot.schedule import QuietHours

    windows = []
    for text in (item.options or {}).get("quiet_hours") or []:
        try:
            windows.append(QuietHours.parse(text))
        except ValueError:
            continue
    return windows
def run_approve(args: argparse.Namespace) -> int:
    """Approve each ID in turn; every one is tried, and the exit code is 2 if any was refused."""
    from bot.approval import approve_item, campaign_paths, load_campaigns_quietly
    from bot.errors import CrieurError
    from bot.timefmt import format_local

    campaigns = load_campaigns_quietly(campaign_paths(None, args.config))
    store = open_store_for(args, announce=True, must_exist=True)
    refused = 0
    for item_id in args.ids:
        try:
            item = approve_item(store, item_id, args.by, campaigns, at_once=args.now)
        except CrieurError as error:
            print(f"crieur: error: {error}", file=sys.stderr)
            refused += 1
            continue
        print(f"item {item_id} approved by {' '.join(args.by.split())}; due {format_local(item.due_at, _zone(item))}")
    return 2 if refused else 0


def run_reject(args: argparse.Namespace) -> int:
    store = open_store_for(args, announce=True, must_exist=True)
    store.reject(args.id, args.by, args.reason)
    print(f"item {args.id} rejected; it will not be published")
    return 0


def run_resolve(args: argparse.Namespace) -> int:
    """Settle a post in doubt through `Store.resolve_post`; exit 2 for a bad id, post or state."""
    from bot.errors import BadInput
    from bot.store import InvalidTransition, ItemState, PostState

    store = open_store_for(args, announce=True, must_exist=True)
    item = store.get_item(args.id)
    post = _post_to_resolve(item, args.post)
    if post.state == PostState.POSTED:
        raise InvalidTransition(f"item {item.id} post {post.index} is already posted ({post.url or post.remote_id})")
    in_doubt = post.state == PostState.UNKNOWN
    if not in_doubt and item.state not in (ItemState.NEEDS_REVIEW, ItemState.FAILED):
        raise InvalidTransition(
            f"item {item.id} is {item.state} and post {post.index} is {post.state}: there is nothing to resolve"
        )
    if args.posted:
        url = args.posted.strip()
        if not re.match(r"^(https?|at)://\S+$", url):
            raise BadInput(f"--posted: {url!r} is not a URL (https://… or at://…)")
        remote_id = args.remote_id or remote_id_from_url(item, post, url)
        resolved = store.resolve_post(item.id, post.index, posted=True, remote_id=remote_id,
                                      url=url if not url.startswith("at://") else None)
        said = f"item {item.id} post {post.index} recorded as posted ({remote_id})"
    else:
        if args.remote_id:
            raise BadInput("--remote-id goes with --posted, not --not-posted")
        resolved = store.resolve_post(item.id, post.index, posted=False)
        said = f"item {item.id} post {post.index} recorded as not posted; it will be sent again"
    if resolved.state == ItemState.PUBLISHED:
        print(f"{said}; the thread is complete (published)")
    else:
        following = resolved.next_post
        where = f"post {following.index}" if following else "the next post"
        print(f"{said}; the thread continues with {where}, due now")
    return 0


def _post_to_resolve(item: Any, index: int | None) -> Any:
    from bot.errors import BadInput
    from bot.store import InvalidTransition, PostState

    if index is not None:
        if not 1 <= index <= len(item.posts):
            raise BadInput(f"--post {index}: item {item.id} has posts 1 to {len(item.posts)}")
        return item.posts[index - 1]
    doubtful = next((p for p in item.posts if p.state == PostState.UNKNOWN), None)
    if doubtful is not None:
        return doubtful
    following = item.next_post
    if following is None:
        raise InvalidTransition(f"item {item.id} has every post posted; there is nothing to resolve")
    return following


def remote_id_from_url(item: Any, post: Any, url: str) -> str:
    """The remote id a post's URL stands for on the item's platform; BadInput when it cannot tell.

    The platform's plug-in reads it (`PlatformPlugin.remote_id_from_url`): from the URL itself
    (X, Mastodon-API servers), with the account's DID from another post of the thread (a
    bsky.app URL), or from the post's idempotency key (the dry run).
    """
    from bot.errors import BadInput
    from bot.platforms import get_plugin

    plugin = get_plugin(item.platform)
    thread_ids = [p.remote_id for p in item.posts if p.remote_id]
    remote_id = plugin.remote_id_from_url(url.strip(), thread_ids, post.idempotency_key)
    if remote_id is None:
        raise BadInput(f"--posted: cannot tell the {plugin.label} post id from {url}; "
                       f"give it with --remote-id {plugin.remote_id_hint}")
    return remote_id
