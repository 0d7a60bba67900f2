"""`crieur status`: one screen saying what is queued, what is next, and what needs a person."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from bot.commands.common import add_db_option, add_dry_run_option, open_store_for

NEXT_DUE = 10
LAST_PROBLEMS = 10
# States shown (in this order) even when no item is in them; others found in the store follow.
SHOWN_STATES = ("scheduled", "publishing", "published", "failed", "needs_review", "cancelled")
# States that wait for a person on purpose (the review desk): shown, never a reason to exit 1.
WAITING_ON_PURPOSE = ("awaiting_review",)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="is a daemon running, what is queued and next, what needs a person",
        description="Print the daemons serving the store, each account's next slot and pause, the counts "
        "per state, the next threads due and the last failures. Exit 1 when something needs a person: a "
        "failed or needs_review item, an account paused until resumed, or items due with no daemon "
        "running. CAMPAIGN files (default: config/campaigns/*.yaml when there) give the accounts' slots.",
    )
    parser.add_argument("campaigns", nargs="*", metavar="CAMPAIGN", help="campaign YAML files")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_dry_run_option(parser)
    add_db_option(parser)
    parser.set_defaults(handler=run)


@dataclass
class Status:
    """Everything `crieur status` shows; `attention` lists why it exits 1 (empty: exit 0)."""

    store: str
    now: datetime
    zone: ZoneInfo
    daemons: list[Any]
    counts: dict[str, int]
    due_now: int
    accounts: list[dict[str, Any]]
    upcoming: list[Any]
    problems: list[Any]
    attention: list[str] = field(default_factory=list)

    @property
    def running(self) -> list[Any]:
        return [d for d in self.daemons if d.alive]


def run(args: argparse.Namespace) -> int:
    store = open_store_for(args, announce=False, must_exist=True)
    try:
        status = gather(store, _campaigns(args))
    finally:
        store.close()
    if args.json:
        json.dump(as_json(status), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(as_text(status))
    return 1 if status.attention else 0


def _campaigns(args: argparse.Namespace) -> list[Any]:
    from pathlib import Path

    from bot.campaign import load_campaigns

    if args.campaigns:
        return load_campaigns(args.campaigns)
    folder = Path("config/campaigns")
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    return load_campaigns(paths) if paths else []


def gather(store: Any, campaigns: list[Any], now: datetime | None = None) -> Status:
    """Read the store (and the campaigns' schedules) into a Status at `now`."""
    from bot.enqueue import AccountSchedule

    now = now or datetime.now(timezone.utc)
    zones = {c.timezone.key for c in campaigns}
    zone = campaigns[0].timezone if len(zones) == 1 else ZoneInfo("UTC")
    paused = {s.account: s for s in store.paused_accounts(now)}
    accounts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for campaign in campaigns:
        for account in campaign.accounts.values():
            if account.name in seen:
                continue
            seen.add(account.name)
            accounts.append(_account_row(store, account.name, account.platform, campaign.name,
                                         AccountSchedule(campaign.schedule, account), paused, now))
    counts = store.count_by_state()
    for name in sorted(set(paused) - seen):  # paused accounts of campaigns not given here
        accounts.append(_account_row(store, name, None, None, None, paused, now))
    daemons = store.daemons(now)
    status = Status(
        store=store.display_url, now=now, zone=zone, daemons=daemons, counts=counts,
        due_now=store.due_count(now), accounts=accounts, upcoming=store.upcoming(NEXT_DUE),
        problems=store.recent_problems(LAST_PROBLEMS),
    )
    failed, review = counts.get("failed", 0), counts.get("needs_review", 0)
    if failed:
        status.attention.append(f"{failed} failed {_plural(failed, 'item')}")
    if review:
        status.attention.append(f"{review} {_plural(review, 'item')} {'needs' if review == 1 else 'need'} review")
    held = [a for a in accounts if a["paused"] and a["paused_until"] is None]
    if held:
        status.attention.append(f"{len(held)} {_plural(len(held), 'account')} paused until resumed")
    if status.due_now and not status.running:
        status.attention.append(f"{status.due_now} {_plural(status.due_now, 'item')} due and no daemon running")
    return status


def _account_row(store: Any, name: str, platform: str | None, campaign: str | None, schedule: Any,
                 paused: dict[str, Any], now: datetime) -> dict[str, Any]:
    from bot.schedule import NoSlotError

    next_slot = None
    if schedule is not None:
        cursor, freed = store.slot_position(name, now)
        try:
            next_slot = schedule.next_slot(max(now, cursor) if cursor else now)
        except NoSlotError:
            next_slot = None
        if freed is not None and (next_slot is None or freed < next_slot):
            next_slot = freed
    pause = paused.get(name)
    return {
        "account": name, "platform": platform, "campaign": campaign, "next_slot": next_slot,
        "paused": pause is not None,
        "paused_until": pause.paused_until if pause else None,
        "pause_reason": pause.pause_reason if pause else None,
    }


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def as_text(status: Status) -> str:
    """The one screen, as printed."""
    from bot.timefmt import format_local

    zone, now = status.zone, status.now
    lines = [f"store: {status.store}"]
    if status.running:
        for d in status.running:
            mode = " (dry run)" if d.info.get("dry_run") else ""
            lines.append(f"daemon: running on {d.node} (pid {d.pid}){mode} since {format_local(d.started_at, zone)}, "
                         f"last heartbeat {_ago(d.heartbeat_at, now)}")
    else:
        last = status.daemons[0] if status.daemons else None
        if last is None:
            lines.append("daemon: none has run on this store")
        elif last.stopped_at is not None:
            lines.append(f"daemon: not running (the last, on {last.node}, pid {last.pid}, stopped "
                         f"{format_local(last.stopped_at, zone)})")
        else:
            lines.append(f"daemon: not running (the last, on {last.node}, pid {last.pid}, stopped beating "
                         f"{_ago(last.heartbeat_at, now)})")
    states = list(SHOWN_STATES) + sorted(set(status.counts) - set(SHOWN_STATES))
    lines.append("queue: " + ", ".join(f"{status.counts.get(s, 0)} {s.replace('_', ' ')}" for s in states)
                 + (f"; {status.due_now} due now" if status.due_now else ""))
    if status.accounts:
        lines.append("")
        rows: list[tuple[str, ...]] = [("ACCOUNT", "PLATFORM", "NEXT SLOT", "STATE")]
        for a in status.accounts:
            if a["paused"]:
                until = format_local(a["paused_until"], zone) if a["paused_until"] else "resumed"
                state = f"paused until {until}: {a['pause_reason']}"
            else:
                state = "ok"
            rows.append((a["account"], a["platform"] or "?", format_local(a["next_slot"], zone), state))
        lines += _table(rows)
    lines.append("")
    if status.upcoming:
        lines.append(f"next {_plural(len(status.upcoming), 'thread')} due:")
        rows = [("ID", "DUE", "ACCOUNT", "POSTS", "TITLE")]  # a new table, same type
        for item in status.upcoming:
            due = max(item.due_at, item.next_attempt_at)
            rows.append((str(item.id), format_local(due, zone), item.account, str(len(item.posts)),
                         _short(item.title or item.source)))
        lines += ["  " + line for line in _table(rows)]
    else:
        lines.append("nothing scheduled")
    waiting = sum(status.counts.get(s, 0) for s in WAITING_ON_PURPOSE)
    if waiting:
        lines.append(f"{waiting} {_plural(waiting, 'thread')} awaiting review (crieur queue list --state awaiting_review)")
    if status.problems:
        lines.append("")
        lines.append("needs a person:")
        for item in status.problems:
            fix = (f"crieur queue show {item.id}, then crieur queue retry {item.id}" if item.state == "failed"
                   else f"crieur queue show {item.id}")
            lines.append(f"  #{item.id} {item.state} {item.account}: {_short(item.last_error or '', 140)} ({fix})")
    lines.append("")
    lines.append("attention: " + "; ".join(status.attention) if status.attention else "all well")
    return "\n".join(lines) + "\n"


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as left-aligned columns (the last one not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]).rstrip()
            for row in rows]


def as_json(status: Status) -> dict[str, Any]:
    """The same facts as JSON (times ISO 8601 with the zone's offset)."""
    from bot.timefmt import iso

    zone = status.zone

    def item_json(item: Any) -> dict[str, Any]:
        return {"id": item.id, "campaign": item.campaign, "account": item.account, "platform": item.platform,
                "state": str(item.state), "title": item.title, "source": item.source,
                "due_at": iso(max(item.due_at, item.next_attempt_at), zone), "posts": len(item.posts),
                "last_error": item.last_error}

    return {
        "store": status.store,
        "now": iso(status.now, zone),
        "daemon_running": bool(status.running),
        "daemons": [
            {"node": d.node, "pid": d.pid, "holder": d.holder, "alive": d.alive, "since": iso(d.started_at, zone),
             "heartbeat_at": iso(d.heartbeat_at, zone), "stopped_at": iso(d.stopped_at, zone),
             "dry_run": bool(d.info.get("dry_run")), "once": bool(d.info.get("once"))}
            for d in status.daemons
        ],
        "counts": {s: status.counts.get(s, 0) for s in list(SHOWN_STATES) + sorted(set(status.counts) - set(SHOWN_STATES))},
        "due_now": status.due_now,
        "accounts": [
            {**a, "next_slot": iso(a["next_slot"], zone), "paused_until": iso(a["paused_until"], zone)}
            for a in status.accounts
        ],
        "next_due": [item_json(i) for i in status.upcoming],
        "problems": [item_json(i) for i in status.problems],
        "attention": status.attention,
        "exit_code": 1 if status.attention else 0,
    }
