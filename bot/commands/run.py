"""`crieur run`: the posting daemon (see bot.scheduler), with signals, locking and exit codes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bot.commands.common import add_db_option, store_option
from bot.locations import sqlite_path, state_dir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="publish queued threads when they are due (the daemon)",
        description="Publish the queued threads of the served campaigns when they are due. "
        "Without CAMPAIGN files, serves config/campaigns/*.yaml under the current directory.",
    )
    parser.add_argument("campaigns", nargs="*", metavar="CAMPAIGN", help="campaign YAML files")
    parser.add_argument("--config", metavar="DIR", help="serve DIR/*.yaml (default: config/campaigns)")
    parser.add_argument("--dry-run", action="store_true",
                        help="publish through the dry-run adapter into a separate store (queue/dryrun.db)")
    parser.add_argument("--once", action="store_true", help="publish what is due now, then exit")
    parser.add_argument("--lease", default="30s", metavar="DURATION", help="claim lease (default 30s)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="publish for at most N accounts at once (default: every account due, up to 256)")
    parser.add_argument("--log-format", choices=["text", "json"], default="text")
    parser.add_argument("--metrics", metavar="HOST:PORT",
                        help="serve Prometheus metrics on http://HOST:PORT/metrics and health on /healthz")
    parser.add_argument("--prune-history", default="90d", metavar="DURATION",
                        help="delete attempt history older than this (default 90d)")
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    from datetime import timezone
    from pathlib import Path

    from bot.campaign import load_campaigns
    from bot.errors import BadInput
    from bot.logs import configure_logging
    from bot.publisher import AdapterPool
    from bot.scheduler import Daemon, StoreLock
    from bot.schedule import parse_duration
    from bot.store import open_store, resolve_store_url

    # Signals first: a stop asked while starting up (loading, opening the store) must still end
    # in an orderly exit with the right code, not in Python's default death by SIGTERM.
    stop_asked: list[int] = []
    daemon_ref: list[Daemon] = []

    def on_stop(signum: int, _frame: object) -> None:
        stop_asked.append(signum)
        logging.getLogger("crieur.daemon").info(
            "stopping (%s): finishing the post in flight", signal.Signals(signum).name)
        if daemon_ref:
            daemon_ref[0].stop()

    def on_hup(_signum: int, _frame: object) -> None:
        if daemon_ref:
            daemon_ref[0].reload()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)

    paths = _campaign_paths(args)
    campaigns = load_campaigns(paths)
    zones = {c.timezone.key for c in campaigns}
    configure_logging(args.log_format, campaigns[0].timezone if len(zones) == 1 else timezone.utc)
    log = logging.getLogger("crieur.daemon")
    try:
        lease = parse_duration(args.lease)
        keep = parse_duration(args.prune_history)
    except ValueError as error:
        raise BadInput(f"--lease/--prune-history: {error}") from None

    # A dry run never marks a real item published: it has its own store, beside the real
    # SQLite file (queue/dryrun.db by default), or in ./queue/ when the real one is PostgreSQL.
    url = resolve_store_url(store_option(args))
    watch = None
    db_path = sqlite_path(url)
    if db_path is not None:
        if not db_path.parent.is_dir() and not args.dry_run and (args.db or os.environ.get("CRIEUR_DB")):
            # A daemon pointed at a directory that is not there would serve an empty new store
            # and report success: a typo, or a volume that is not mounted.
            raise BadInput(f"the store's directory {db_path.parent} does not exist (--db/CRIEUR_DB); "
                           "create it, or check the path")
    store = open_store(url)
    lock = None
    if db_path is not None:
        lock = StoreLock(Path(url.split(":///", 1)[1]))
        lock.acquire()
        watch = SqliteWatch(db_path)
    dryrun_path = Path(url.split(":///", 1)[1]).with_name("dryrun.jsonl") if (
        args.dry_run and url.startswith("sqlite")) else None
    pool = AdapterPool(dry_run=args.dry_run, dryrun_path=dryrun_path, state_dir=state_dir(db_path))
    notifier = None
    if any(c.notify is not None for c in campaigns):
        from bot.notify import Notifier

        notifier = Notifier(campaigns)
    metrics = server = None
    if args.metrics:
        from bot.metrics import Metrics, parse_listen

        try:
            host, port = parse_listen(args.metrics)
        except ValueError as error:
            raise BadInput(str(error)) from None
        metrics = Metrics(store)
    if args.workers is not None and args.workers < 1:
        raise BadInput(f"--workers: must be at least 1, got {args.workers}")
    daemon = Daemon(store, lambda: load_campaigns(paths), pool=pool, lease=lease, keep_history=keep,
                    notifier=notifier, metrics=metrics, workers=args.workers,
                    store_gone=watch.gone if watch else None, stop_grace=pool.timeout + 5)
    if metrics is not None:
        from bot.metrics import MetricsServer

        server = MetricsServer(metrics, host, port, daemon.health)
        log.info("metrics on http://%s:%d/metrics, health on /healthz", server.host, server.port)
    daemon_ref.append(daemon)
    if stop_asked:
        daemon.stop()
    for line in daemon.describe().splitlines():
        log.info(line)
    if lock is not None:
        daemon.take_over()  # the lock proves the previous holder dead: no waiting for its leases
    daemon.prune_history()

    try:
        if args.once:
            code = daemon.run_once()
            if not any(vars(daemon.report).values()):
                _say_where_items_wait(args, url, log)
        else:
            daemon.run_forever()
            code = daemon.exit_code
    finally:
        if server is not None:
            server.close()
        if notifier is not None:
            notifier.close()
        pool.close()
        if lock is not None:
            lock.release()
        _close_bounded(store)
    if daemon.exit_code:
        code = daemon.exit_code
    elif stop_asked:
        code = 130 if signal.SIGINT in stop_asked else 0
    _exit_if_workers_hang(code)
    return code


class SqliteWatch:
    """Tells when a SQLite store itself is gone: its file or directory removed or replaced.

    SQLite keeps writing to a deleted file through its open descriptor, so nothing fails: the
    daemon would go on serving a queue nobody can see, and a second daemon could start on a new
    empty store. The file's and directory's identities (device, inode) are compared instead.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids = (self._id(path.parent), self._id(path))

    @staticmethod
    def _id(path: Path) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def gone(self) -> str | None:
        directory, file = self._id(self.path.parent), self._id(self.path)
        if directory is None:
            return f"the store's directory {self.path.parent} was removed"
        if directory != self._ids[0]:
            return f"the store's directory {self.path.parent} was replaced"
        if file is None:
            return f"the store {self.path} was removed"
        if file != self._ids[1]:
            return f"the store {self.path} was replaced by another file"
        return None


def _close_bounded(store: object) -> None:
    """Close the store, waiting a few seconds at most for a hung database."""
    import threading

    closer = threading.Thread(target=store.close, name="close-store", daemon=True)  # type: ignore[attr-defined]
    closer.start()
    closer.join(5)


def _exit_if_workers_hang(code: int) -> None:
    """SIGTERM must never wait on a hung store: if a publishing worker is still blocked in a
    store call, exit now (its post stays in doubt in the store and is settled on restart)
    instead of letting the interpreter join that thread forever."""
    import logging
    import threading

    stuck = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
             and t.is_alive()]
    if stuck:
        stuck[0].join(1)
        if any(t.is_alive() for t in stuck):
            logging.getLogger("crieur.daemon").warning(
                "%d worker(s) still blocked (a hung store or platform); exiting without them", len(stuck))
            logging.shutdown()
            import sys

            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


def _campaign_paths(args: argparse.Namespace) -> list[Path]:
    from pathlib import Path

    from bot.errors import BadInput

    if args.campaigns:
        return [Path(p) for p in args.campaigns]
    folder = Path(args.config or "config/campaigns")
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not paths:
        raise BadInput(f"{folder}: no campaign files (*.yaml); name CAMPAIGN files or --config DIR")
    return paths


def _say_where_items_wait(args: argparse.Namespace, url: str, log: Any) -> None:
    """After an empty `--once`: the other store (dry-run or default) may be where the items are."""
    from pathlib import Path

    from bot.commands.common import dry_run_store_path
    from bot.store import open_store, resolve_store_url

    if args.db:
        return
    other = resolve_store_url(None) if args.dry_run else resolve_store_url(dry_run_store_path())
    if other == url or (other.startswith("sqlite:///") and not Path(other[len("sqlite:///"):]).exists()):
        return
    try:
        store = open_store(other)
        try:
            waiting = store.count_by_state().get("scheduled", 0)
        finally:
            store.close()
    except Exception:  # only a hint: never a reason to fail
        return
    if waiting:
        hint = "run without --dry-run" if args.dry_run else "add --dry-run"
        log.warning("nothing was due in this store, but %d item(s) wait in %s: %s", waiting,
                    other.split(":///", 1)[-1], hint)
