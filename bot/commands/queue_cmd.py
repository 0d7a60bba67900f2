"""`crieur queue list|show|cancel|retry|reschedule`: look at and steer the queue."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from zoneinfo import ZoneInfo

from bot.commands.common import add_db_option, open_store_for

STATES = ["scheduled", "publishing", "published", "failed", "cancelled", "needs_review"]


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
        ("cancel", "cancel a thread that was not published", run_cancel),
        ("retry", "schedule a failed or needs_review thread again, due now", run_retry),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("id", type=int, metavar="ID")
        action.set_defaults(handler=handler)

    reschedule = actions.add_parser("reschedule", help="move a scheduled thread to another time")
    reschedule.add_argument("id", type=int, metavar="ID")
    reschedule.add_argument("--at", required=True, metavar="TIME", help="ISO 8601 (campaign zone if no offset) or now")
    reschedule.set_defaults(handler=run_reschedule)

    for action in (listing, show, *actions.choices.values()):
        if not any(a.dest == "db" for a in action._actions):
            add_db_option(action)


def _zone(item: Any) -> ZoneInfo:
    name = (item.options or {}).get("timezone") or "UTC"
    try:
        return ZoneInfo(name)
    except Exception:  # a store written elsewhere may name a zone this machine lacks
        return ZoneInfo("UTC")


def _item_json(item: Any, *, with_posts: bool) -> dict[str, Any]:
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
        "next_attempt_at": iso(item.next_attempt_at, zone),
        "last_error": item.last_error,
    }
    if with_posts:
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

    store = open_store_for(args, announce=False)
    items = store.list_items(state=args.state, campaign=args.campaign)
    if args.json:
        json.dump([_item_json(item, with_posts=False) for item in items], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    if not items:
        print("the queue is empty" if not (args.state or args.campaign) else "no matching items")
        return 0
    for item in items:
        label = item.title or item.source
        print(f"{item.id:>6}  {item.state:<12}  {format_local(item.due_at, _zone(item)):<22}  "
              f"{item.campaign}/{item.account}  {label}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from bot.platforms import get_platform
    from bot.timefmt import format_local

    store = open_store_for(args, announce=False)
    item = store.get_item(args.id)
    if args.json:
        json.dump(_item_json(item, with_posts=True), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    zone = _zone(item)
    print(f"item {item.id}: {item.state} — {item.campaign}/{item.account} ({item.platform})")
    print(f"source: {item.source}")
    if item.title:
        print(f"title: {item.title}")
    print(f"due: {format_local(item.due_at, zone)}   attempts: {item.attempts}")
    if item.next_attempt_at:
        print(f"next attempt: {format_local(item.next_attempt_at, zone)}")
    if item.last_error:
        print(f"last error: {item.last_error}")
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
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    store = open_store_for(args, announce=True)
    store.cancel(args.id)
    print(f"item {args.id} cancelled")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    store = open_store_for(args, announce=True)
    store.retry(args.id)
    print(f"item {args.id} scheduled again, due now")
    return 0


def run_reschedule(args: argparse.Namespace) -> int:
    from bot.timefmt import format_local, parse_at

    store = open_store_for(args, announce=True)
    item = store.get_item(args.id)
    zone = _zone(item)
    at = parse_at(args.at, zone)
    store.reschedule(args.id, at)
    print(f"item {args.id} rescheduled for {format_local(at, zone)}")
    return 0
