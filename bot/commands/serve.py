"""`crieur serve`: the desk, a local web page to review, approve, edit and steer the queue."""

from __future__ import annotations

import argparse

from bot.commands.common import add_db_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="the desk: a local web page to review, approve, edit and steer the queue",
        description="Serve the desk on http://HOST:PORT/. It reads and writes the same store as the daemon, "
        "so a running `crieur run` sees approvals and edits at once. It binds to 127.0.0.1; any other "
        "address needs a token (--token or $CRIEUR_DESK_TOKEN), which a browser presents once as "
        "?token=… and then keeps as a session cookie.",
    )
    parser.add_argument("campaigns", nargs="*", metavar="CAMPAIGN", help="campaign YAML files (schedules, grace, accounts)")
    parser.add_argument("--config", metavar="DIR", help="campaigns: DIR/*.yaml (default: config/campaigns)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--token", help="require this token (default: $CRIEUR_DESK_TOKEN); needed off loopback")
    parser.add_argument("--dry-run", action="store_true", help="serve the dry-run store (queue/dryrun.db)")
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import os
    import sys
    from pathlib import Path

    from bot.approval import campaign_paths, load_campaigns_quietly
    from bot.errors import BadInput
    from bot.store import open_store, resolve_store_url
    from bot.web.security import TOKEN_ENV, is_loopback

    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    if token is not None:
        token = token.strip()
        if len(token) < 16:
            raise BadInput("--token: use at least 16 characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe())')")
    if not is_loopback(args.host) and token is None:
        raise BadInput(f"--host {args.host} lets other machines in: give a token (--token or ${TOKEN_ENV})")
    if not 0 <= args.port <= 65535:
        raise BadInput(f"--port {args.port}: not a port number")
    campaigns = load_campaigns_quietly(campaign_paths(args.campaigns, args.config))
    db = args.db
    if args.dry_run and not db:
        real = resolve_store_url(None)
        beside = Path(real.split(":///", 1)[1]) if real.startswith("sqlite") else Path("queue/crieur.db")
        db = str(beside.with_name("dryrun.db"))
    store = open_store(resolve_store_url(db))

    import socket

    import uvicorn

    from bot.web.app import Desk, create_app

    logging.getLogger("crieur.desk").setLevel(logging.INFO)
    from bot.locations import state_dir_for_store
    from bot.live_limits import LiveLimits

    limits = LiveLimits(state_dir_for_store(resolve_store_url(db)))
    app = create_app(Desk(store=store, campaigns=campaigns, limits=limits), token=token)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as error:
        raise BadInput(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    # Listening before the address is printed: a client that reads it and connects at once is
    # queued in the backlog until uvicorn accepts, never refused.
    sock.listen(2048)
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    # Never the token itself: whoever has it knows it; logs and terminals are not for secrets.
    extra = " (token required: open it once with ?token=…)" if token else ""
    print(f"desk: http://{shown}:{port}/ — store {store.display_url}, "
          f"{len(campaigns)} campaign{'s' if len(campaigns) != 1 else ''}{extra}", file=sys.stderr, flush=True)
    # uvicorn's access log would print each request's query string (?token=…): it stays off; the
    # desk logs the changes people make (item, action, who), never a query string.
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, lifespan="off")
    server = uvicorn.Server(config)
    # uvicorn stops on SIGINT/SIGTERM, then raises the signal again to the handler found before
    # it started: these record it, so the exit code follows `crieur run` (SIGTERM 0, Ctrl-C 130).
    import signal

    stopped: list[int] = []

    def stop(number: int, _frame: object) -> None:
        stopped.append(number)
        server.should_exit = True  # a signal before uvicorn takes over still stops it

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    try:
        server.run(sockets=[sock])
    finally:
        store.close()
    print("desk: stopped", file=sys.stderr)
    return 130 if signal.SIGINT in stopped else 0
