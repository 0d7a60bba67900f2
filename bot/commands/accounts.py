"""`crieur accounts check|status|resume`: verify accounts' credentials, see and lift publishing pauses."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from bot.commands.common import add_db_option, add_dry_run_option, open_store_for

if TYPE_CHECKING:
    import requests

TIMEOUT = 10.0


def http_session(account: Any) -> requests.Session | None:
    """The HTTP session for `account`'s adapter (None: the adapter's own). Tests route X's host here."""
    return None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("accounts", help="check credentials; see and lift account pauses")
    actions = parser.add_subparsers(dest="accounts_action", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check", help="verify every account's credentials and print its handle",
        description="For each account of the CAMPAIGN files, read its credentials, ask the platform who it is, "
        "and print `NAME (PLATFORM): @handle ok` or why not. Exit 0 when all are fine, 1 when a platform "
        "refused or could not be reached, 2 when an account's configuration is incomplete (a variable "
        "unset, no credentials file).",
    )
    check.add_argument("campaigns", nargs="+", metavar="CAMPAIGN", help="campaign YAML files")
    check.add_argument("--account", action="append", metavar="NAME", help="only this account (repeatable)")
    check.set_defaults(handler=run_check)

    status = actions.add_parser("status", help="list the paused accounts, why, and until when")
    add_db_option(status)
    add_dry_run_option(status)
    status.set_defaults(handler=run_status)

    resume = actions.add_parser("resume", help="lift an account's pause (e.g. after fixing its token)")
    resume.add_argument("name", metavar="NAME", help="the account name")
    add_db_option(resume)
    add_dry_run_option(resume)
    resume.set_defaults(handler=run_resume)


def run_check(args: argparse.Namespace) -> int:
    from bot.adapters import AdapterError
    from bot.campaign import load_campaigns
    from bot.errors import BadInput
    from bot.publisher import AdapterPool

    accounts: dict[str, Any] = {}
    for campaign in load_campaigns(args.campaigns):  # same account in two files: checked once
        for account in campaign.accounts.values():
            accounts.setdefault(account.name, account)
    if args.account:
        unknown = [name for name in args.account if name not in accounts]
        if unknown:
            raise BadInput(f"--account: no account named {', '.join(unknown)} in these campaigns "
                           f"(known: {', '.join(sorted(accounts))})")
        accounts = {name: accounts[name] for name in args.account}

    from bot.platforms import get_plugin

    pool = AdapterPool(timeout=TIMEOUT, session_factory=http_session)
    failed = incomplete = 0
    try:
        for name, account in accounts.items():
            label = f"{name} ({account.platform})"
            try:
                handle = pool.get(account).verify()
            except BadInput as exc:  # its configuration: a variable unset, the credentials file
                incomplete += 1
                print(f"{label}: {_strip(str(exc), name)}", flush=True)
                continue
            except AdapterError as exc:
                failed += 1
                print(f"{label}: {_reason(exc)}", flush=True)
                continue
            simulated = get_plugin(account.platform).simulated  # "dryrun" is not a handle
            print(f"{label}: {handle if handle.startswith('@') or simulated else '@' + handle} ok", flush=True)
    finally:
        pool.close()
    total = len(accounts)
    if failed or incomplete:
        print(f"crieur: {failed + incomplete} of {total} account{'s' if total != 1 else ''} not usable",
              file=sys.stderr)
    return 2 if incomplete else (1 if failed else 0)


def _strip(message: str, name: str) -> str:
    # "account desk-x: variable … is not set" already sits after "desk-x (x):".
    prefix = f"account {name}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _reason(exc: Any) -> str:
    from bot.adapters import AuthFailed, RateLimited, Transient

    if isinstance(exc, AuthFailed):
        return f"credentials refused: {exc.message} (run crieur auth {exc.platform} again)"
    if isinstance(exc, RateLimited):
        return f"rate limited until {exc.retry_at.isoformat(timespec='seconds')}: {exc.message}"
    if isinstance(exc, Transient):
        return f"unreachable: {exc.message}"
    return f"failed: {exc.message}"


def run_status(args: argparse.Namespace) -> int:
    from datetime import timezone

    store = open_store_for(args, announce=False, must_exist=True)
    try:
        paused = store.paused_accounts()
    finally:
        store.close()
    if not paused:
        print("no paused accounts")
        return 0
    for state in paused:
        if state.paused_until is None:
            until = "until resumed (crieur accounts resume)"
        else:
            moment = state.paused_until
            moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # stored as UTC
            until = "until " + moment.astimezone(timezone.utc).isoformat(timespec="seconds")
        print(f"{state.account}: paused {until}: {state.pause_reason}")
    return 0


def run_resume(args: argparse.Namespace) -> int:
    from bot.errors import BadInput

    store = open_store_for(args, announce=True, must_exist=True)
    try:
        known = _known_accounts(store)
        if args.name not in known:
            raise BadInput(f"no account named {args.name} in this store or in config/campaigns"
                           + (f" (known: {', '.join(sorted(known))})" if known else ""))
        before = store.account_state(args.name)
        store.resume_account(args.name)
    finally:
        store.close()
    if before.pause_reason is None:
        print(f"{args.name}: was not paused")
    else:
        print(f"{args.name}: resumed (was paused: {before.pause_reason})")
    return 0


def _known_accounts(store: Any) -> set[str]:
    """Account names the store has seen (items, pauses) or config/campaigns/*.yaml defines."""
    from pathlib import Path

    from sqlalchemy import select

    from bot.store.schema import accounts, items

    with store.engine.connect() as conn:
        names = set(conn.execute(select(items.c.account).distinct()).scalars())
        names |= set(conn.execute(select(accounts.c.account)).scalars())
    for path in sorted(Path("config/campaigns").glob("*.y*ml")):
        try:
            from bot.campaign import load_campaign

            names |= set(load_campaign(path).accounts)
        except Exception:  # a broken file elsewhere does not decide this
            continue
    return names
