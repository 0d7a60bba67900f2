"""The posting daemon behind `crieur run`: APScheduler wakes it when the next item is due.

One `BlockingScheduler` drives three kinds of jobs: `publish` (armed at the earliest due time
in the store, re-armed whenever that changes), `sweep` (every 30 s: picks up items other
processes added), and one `poll:<campaign>` job per campaign with folder or feed sources. All
publishing happens in the single `publish` job (max one instance), so posts of one process never
race each other; several processes (nodes) share the work through the store's leases.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.errors import CrieurError
from bot.publisher import AdapterPool, Publisher, PublishResult
from bot.store import Store, StoreUnavailable

log = logging.getLogger("crieur.daemon")

SWEEP_INTERVAL = timedelta(seconds=30)
# Publishing workers when `--workers` is not given: one per account due, up to this many.
MAX_WORKERS = 256
# Back-off while the store is unavailable: first retry after 1 s, doubling up to 30 s.
_OUTAGE_FIRST_RETRY = 1.0
_OUTAGE_MAX_RETRY = 30.0
# How long a stopping daemon waits for the store to take its last writes (release its leases).
STOP_STORE_WAIT_S = 5.0
# How often the daemon checks that its SQLite store is still the file it opened.
STORE_WATCH_S = 2.0
# How soon to look again for due items while workers are busy (see Daemon._arm).
_BUSY_RECHECK = timedelta(milliseconds=200)


class _SkippedPassFilter(logging.Filter):
    """Drops APScheduler's warning that a `publish` pass was skipped (one already running): by
    design that pass sees the same items and re-arms the job, so the line would only be noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not ("maximum number of running instances" in record.getMessage()
                    and "publish_due" in record.getMessage())


@dataclass
class RunReport:
    """What a run did; `--once` turns it into the exit code (1 if anything failed or needs review)."""

    published: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    needs_review: list[int] = field(default_factory=list)

    def add(self, result: PublishResult) -> None:
        bucket = {
            "published": self.published,
            "failed": self.failed,
            "needs_review": self.needs_review,
        }.get(result.outcome, self.retried)
        bucket.append(result.item_id)

    @property
    def exit_code(self) -> int:
        return 1 if (self.failed or self.needs_review) else 0


def _monotonic() -> float:
    import time

    return time.monotonic()


def _short(text: str, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def make_holder() -> str:
    """A lease holder name unique to this process: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class StoreLock:
    """One daemon per SQLite store: an exclusive `flock` on `<db>.lock` beside the database.

    The operating system releases the lock when the holder dies (even by SIGKILL), so a restart
    takes over at once; a second daemon started while the first lives gets a clear error.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._handle: Any = None

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise CrieurError(
                f"another `crieur run` ({holder}) is already serving {self.path.with_suffix('')}; "
                "one daemon per SQLite store (use PostgreSQL, --db postgresql://…, for several)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Daemon:
    """Publishes the served campaigns' due items until stopped (or once, with `once`).

    `load_campaigns` returns the campaigns to serve (called again on SIGHUP: a bad file is
    reported and the old version kept). The store is shared with other processes; everything
    this daemon does is recorded there before the next step.
    """

    def __init__(
        self,
        store: Store,
        load_campaigns: Callable[[], Sequence[Any]],
        *,
        pool: AdapterPool,
        lease: timedelta = timedelta(seconds=30),
        sweep: timedelta = SWEEP_INTERVAL,
        holder: str | None = None,
        clock: Callable[[], datetime] | None = None,
        workers: int | None = None,
        keep_history: timedelta | None = None,
        notifier: Any = None,
        metrics: Any = None,
        store_gone: Callable[[], str | None] | None = None,
        stop_grace: float = 15.0,
    ) -> None:
        self.store = store
        self._load_campaigns = load_campaigns
        self.pool = pool
        self.lease = lease
        self.sweep = sweep
        self.holder = holder or make_holder()
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.stop_event = threading.Event()
        self.report = RunReport()
        self.campaigns: dict[str, Any] = {c.name: c for c in load_campaigns()}
        self.publisher = Publisher(
            store, self.campaigns, pool, holder=self.holder, lease=lease, stop=self.stop_event, clock=self._clock
        )
        # One worker thread per account due, created as they are needed (the executor starts a
        # thread per task in flight): publishing waits on the platforms, not on the CPU, so 40
        # accounts due at once publish side by side. `workers` caps it.
        self.workers = workers or MAX_WORKERS
        self.keep_history = keep_history
        self.notifier = notifier  # bot.notify.Notifier, or None
        self.metrics = metrics  # bot.metrics.Metrics, or None
        if metrics is not None:
            pool.wrap = metrics.wrap
        self._last_tick = _monotonic()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="publish")
        self._in_flight: dict[str, Future[None]] = {}
        self._dispatch_lock = threading.RLock()
        self._idle = threading.Condition(self._dispatch_lock)
        self._scheduler: Any = None
        self._once = False
        # `store_gone()` says why the store itself is gone (file or directory removed or
        # replaced), or None; the daemon then stops with exit code 1.
        self._store_gone = store_gone or (lambda: None)
        # How long a stop waits for the posts in flight (the platform request's timeout and a bit).
        self.stop_grace = stop_grace
        self.exit_code = 0
        self._outage: dict[str, Any] | None = None  # since, cause, delay while the store is unavailable
        self._unreleased: set[int] = set()  # items a store fault kept this daemon from releasing

    # -- start -------------------------------------------------------------------------------

    def describe(self) -> str:
        """The start banner: the store, and the campaigns and accounts served."""
        lines = [f"store: {self.store.display_url}" + (" (dry run: every account posts through dryrun)"
                                                        if self.pool.dry_run else "")]
        for campaign in self.campaigns.values():
            accounts = ", ".join(f"{a.name} ({'dryrun as ' if self.pool.dry_run else ''}{a.platform})"
                                 for a in campaign.accounts.values())
            lines.append(f"campaign {campaign.name} ({campaign.timezone.key}): {accounts}")
        return "\n".join(lines)

    def startup_summary(self) -> str:
        """Settle missed slots and say what was found: due, late (posted within grace),
        re-slotted (missed by more than grace: moved to the next free slot), in doubt."""
        from bot.enqueue import AccountSchedule
        from bot.store import ItemState

        now = self._clock()
        due = late = reslotted = 0
        # Only the items due now are loaded: a store with 100,000 future items must not cost the
        # start-up (or the RSS of a daemon that then sits idle) a copy of the whole queue.
        view = self.store.startup_view(now, list(self.campaigns))
        due_ids, doubt, others = view.due_ids, view.in_doubt, view.other_campaigns
        for item_id in due_ids:
            item = self.store.get_item(item_id)
            campaign = self.campaigns[item.campaign]
            if item.state != ItemState.SCHEDULED or item.due_at > now:
                continue  # another process moved it meanwhile
            if item.posted_count or now - item.due_at <= campaign.grace:
                # A started thread always continues; a fresh one within grace goes out late.
                late += 1 if now - item.due_at > timedelta(minutes=1) else 0
                due += 1
                continue
            account = campaign.accounts.get(item.account)
            self.store.reslot(item.id, AccountSchedule(campaign.schedule, account), now=now)
            reslotted += 1
        for name in others:
            log.warning("items of campaign %s are in the store but this daemon does not serve it; left alone", name)
        return f"found {due} due ({late} late, within grace), {reslotted} re-slotted (missed by more than grace), " \
               f"{doubt} in doubt"

    def take_over(self) -> int:
        """Free every item left `publishing` by a daemon that died; the number freed.

        Only for a store this process serves alone (SQLite under `StoreLock`): no other daemon can
        be alive, so any lease in the store belongs to a dead one, and waiting for it to run out
        would only delay the restart. On PostgreSQL other nodes may be alive: leases expire instead.
        """
        freed = self.store.release_others(self.holder)
        if freed:
            log.info("took over %d item(s) left publishing by a daemon that stopped", freed)
        return freed

    # -- publishing --------------------------------------------------------------------------

    def publish_due(self) -> None:
        """Start publishing every item due now: one worker thread per account due, up to `workers`.

        An account's threads go out one after another (spacing, reply chains, its rate limit);
        different accounts publish side by side, so one long thread never makes another
        account's slot late. Returns once everything due is dispatched; workers re-run it when
        they finish, so items queued behind a busy account follow at once.
        """
        if self._check_store_gone():
            return
        try:
            with self._dispatch_lock:
                self._dispatch()
            self._store_ok()
        except StoreUnavailable as fault:
            self._store_fault(fault)
            return
        self._arm()

    def _dispatch(self) -> None:
        """Claim due items and hand them to workers (the dispatch lock is held by the caller)."""
        self._release_leftovers()
        while not self.stop_event.is_set():
            busy = set(self._in_flight)
            if len(busy) >= self.workers:
                break
            item = self.store.claim_due(
                self._clock(), self.holder, self.lease, campaigns=list(self.campaigns), exclude_accounts=busy
            )
            if item is None:
                break
            self._in_flight[item.account] = self._executor.submit(self._publish_one, item)

    # -- store outages -----------------------------------------------------------------------

    def _store_fault(self, fault: StoreUnavailable) -> None:
        """The store cannot be used: say so in one line (again only if the cause changes), stop
        dispatching, and try again after a back-off (1 s doubling to 30 s). Nothing is counted
        against any item; leases this daemon could not release run out by themselves."""
        if self._check_store_gone():
            return
        with self._dispatch_lock:
            outage = self._outage
            if outage is None:
                outage = self._outage = {"since": self._clock(), "cause": None, "delay": _OUTAGE_FIRST_RETRY}
            else:
                outage["delay"] = min(outage["delay"] * 2, _OUTAGE_MAX_RETRY)
            delay = outage["delay"]
            changed = outage["cause"] != fault.cause
            outage["cause"] = fault.cause
        if changed:
            log.error("store unavailable: %s; publishing waits, retrying every %ds at most (nothing is "
                      "counted against the threads)", fault, int(_OUTAGE_MAX_RETRY))
        else:
            log.debug("store still unavailable: %s; next try in %.0fs", fault.cause, delay)
        self._arm_at(self._clock() + timedelta(seconds=delay))

    def _store_ok(self) -> None:
        with self._dispatch_lock:
            outage, self._outage = self._outage, None
        if outage is not None:
            lasted = (self._clock() - outage["since"]).total_seconds()
            log.info("store reachable again after %.0fs; publishing resumes", lasted)

    @property
    def store_available(self) -> bool:
        """False while the store is unavailable (what a health check reports as 503)."""
        return self._outage is None

    def _release_leftovers(self) -> None:
        """Give back the items a store fault kept this daemon from releasing (lock held)."""
        for item_id in sorted(self._unreleased):
            self.store.release(item_id, self.holder)
            self._unreleased.discard(item_id)

    def _check_store_gone(self) -> bool:
        """Stop with exit code 1 when the store itself is gone; True if so."""
        reason = self._store_gone()
        if reason is None:
            return False
        if not self.stop_event.is_set():
            log.error("%s; stopping (the queue cannot be served from a store that is gone)", reason)
            self.exit_code = 1
            self.stop()
        return True

    def _publish_one(self, item: Any) -> None:
        fault: StoreUnavailable | None = None
        try:
            if self.metrics is not None and item.posted_count == 0:
                self.metrics.lateness.observe(
                    max(0.0, (self._clock() - max(item.due_at, item.next_attempt_at)).total_seconds()))
            result = self.publisher.publish(item)
            with self._dispatch_lock:
                self.report.add(result)
            self._notify(item, result)
            if self.metrics is not None:
                self._observe(item, result)
        except StoreUnavailable as error:
            # Not the thread's fault: it keeps its attempts; what was written ahead is settled on resume.
            fault = error
            with self._dispatch_lock:
                self._unreleased.add(item.id)
        except Exception:  # a bug must not kill the worker silently: log it, free the item
            log.exception("publishing item %s failed unexpectedly", item.id)
            try:
                self.store.release(item.id, self.holder)
            except Exception:
                log.debug("release after failure failed", exc_info=True)
        finally:
            # The next item is dispatched before this worker counts as done, under the same lock:
            # `wait_idle` (run --once) never sees an idle moment between two threads of an account.
            with self._dispatch_lock:
                self._in_flight.pop(item.account, None)
                if fault is None and not self.stop_event.is_set():
                    try:
                        self._dispatch()
                    except StoreUnavailable as error:
                        fault = error
                self._idle.notify_all()
        if fault is not None:
            self._store_fault(fault)
        elif not self.stop_event.is_set():
            self._arm()

    def _observe(self, item: Any, result: PublishResult) -> None:
        """Count the run in the metrics; never raises (a store hiccup must not touch publishing)."""
        try:
            rate_limited = result.outcome == "paused" and self.store.account_state(item.account).paused_until is not None
            self.metrics.observe_result(item, result, rate_limited)
        except Exception:
            log.debug("metrics not updated", exc_info=True)

    def _notify(self, item: Any, result: PublishResult) -> None:
        """Tell the notifier what needs a person (or what went out); never raises."""
        if self.notifier is None:
            return
        try:
            from bot.notify import Event

            label = f"item {item.id} ({item.campaign}/{item.account}, \"{_short(item.title)}\")"
            kind, fix = None, ""
            if result.outcome == "failed":
                kind, fix = "failed", f"crieur queue show {item.id}, then crieur queue retry {item.id}"
            elif result.outcome == "needs_review":
                kind = "needs_review"
                fix = (f"crieur queue show {item.id}, then crieur queue retry {item.id} (or resolve / cancel)")
            elif result.outcome == "published":
                kind = "published"
            elif result.outcome == "paused" and self.store.account_state(item.account).paused_until is None:
                kind = "account_paused"
                fix = f"crieur accounts check CAMPAIGN, then crieur accounts resume {item.account}"
            if kind is None:
                return
            message = result.message or ("all posts out" if kind == "published" else "")
            self.notifier.emit(Event(kind=kind, campaign=item.campaign, summary=f"{label} {kind.replace('_', ' ')}: "
                                     f"{message}", fix=fix, item_id=item.id, account=item.account))
        except Exception:  # a notification problem must never touch publishing
            log.debug("notification not queued", exc_info=True)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no item is being published; False if `timeout` passed first."""
        with self._dispatch_lock:
            return self._idle.wait_for(lambda: not self._in_flight, timeout)

    def register(self) -> None:
        """Record this daemon in the store (node, pid, since when) for `crieur status`."""
        from bot import __version__

        info = {"dry_run": self.pool.dry_run, "once": self._once,
                "campaigns": sorted(self.campaigns), "version": __version__}
        try:
            self.store.daemon_started(self.holder, socket.gethostname(), os.getpid(), info)
        except CrieurError as error:  # status is a convenience: never a reason not to publish
            log.warning("could not record this daemon in the store: %s", error)

    def health(self) -> tuple[bool, str]:
        """(healthy, why) for `/healthz`: the scheduler loop runs (or a --once pass is on) and the store answers."""
        if self.stop_event.is_set():
            return False, "stopping"
        if not self._once:
            scheduler = self._scheduler
            if scheduler is None or not scheduler.running:
                return False, "scheduler loop not running"
            from bot.store.daemons import HEARTBEAT_INTERVAL

            if _monotonic() - self._last_tick > 3 * HEARTBEAT_INTERVAL.total_seconds():
                return False, "scheduler loop stalled"
        try:
            self.store.due_count()
        except Exception as error:
            return False, f"store not answering: {type(error).__name__}"
        return True, "ok"

    def heartbeat(self) -> None:
        """Say in the store that this daemon is alive (every HEARTBEAT_INTERVAL)."""
        self._last_tick = _monotonic()
        try:
            self.store.daemon_heartbeat(self.holder)
        except Exception as error:  # the store may be briefly unreachable; the next beat retries
            log.warning("heartbeat not recorded: %s", error)

    def unregister(self) -> None:
        """Record that this daemon stopped (an orderly stop; a killed one just stops beating)."""
        try:
            self.store.daemon_stopped(self.holder)
        except Exception as error:
            log.warning("could not record this daemon's stop in the store: %s", error)

    def run_once(self) -> int:
        """`--once`: publish what is due now, wait for it, return 0 or 1 (failed/needs_review)."""
        self._once = True
        self.register()
        try:
            return self._run_once()
        finally:
            self.unregister()

    def _run_once(self) -> int:
        log.info(self.startup_summary())
        self.publish_due()
        self.wait_idle()
        self._executor.shutdown(wait=True)
        if self._outage is not None or self.exit_code:
            return 1  # the one line saying why is logged already
        self.store.release_all(self.holder)
        stuck = self._waiting_for_people()
        report = self.report
        log.info("done: %d published, %d to retry or deferred, %d failed, %d need review, %d waiting for a "
                 "paused account", len(report.published), len(report.retried), len(report.failed),
                 len(report.needs_review), stuck)
        return 1 if stuck else report.exit_code

    def _waiting_for_people(self) -> int:
        """Due items of served accounts paused until someone acts (refused credentials): logged,
        and counted, so that `--once` run from cron fails loudly instead of exiting 0 forever."""
        from bot.store import ItemState

        now = self._clock()
        served = {a for c in self.campaigns.values() for a in c.accounts}
        blocked = {s.account: s.pause_reason for s in self.store.paused_accounts(now)
                   if s.paused_until is None and s.account in served}
        if not blocked:
            return 0
        waiting = [i for i in self.store.list_items(state=ItemState.SCHEDULED)
                   if i.account in blocked and i.due_at <= now]
        for account, reason in sorted(blocked.items()):
            count = sum(1 for i in waiting if i.account == account)
            if count:
                log.error("%d due item(s) wait for account %s, paused until resumed: %s", count, account, reason)
        return len(waiting)

    def _arm(self) -> None:
        """(Re-)arm the `publish` job at the earliest due time in the store."""
        if self._scheduler is None or self.stop_event.is_set():
            return
        now = self._clock()
        try:
            when = self.store.next_due_at(now, campaigns=list(self.campaigns))
        except StoreUnavailable as fault:
            self._store_fault(fault)
            return
        if when is None:
            return
        if when <= now:
            with self._dispatch_lock:
                busy = bool(self._in_flight)
            # Due now yet not claimed: it belongs to an account a worker is busy with (or every
            # worker is busy). The worker re-runs publish_due when it ends; arming at `now` would
            # spin (measured: half a CPU) while the account's thread waits out its spacing. A short
            # re-check still catches an item of a free account that became due in between.
            when = now + _BUSY_RECHECK if busy else now
        self._arm_at(when)

    def _arm_at(self, when: datetime) -> None:
        if self._scheduler is None or self.stop_event.is_set():
            return
        self._scheduler.add_job(
            self._job(self.publish_due),
            "date",
            run_date=when,
            id="publish",
            replace_existing=True,
            misfire_grace_time=None,
            # The pass that arms this job may still be returning when it fires; dispatching is
            # serialised by a lock, and each account has at most one worker, whatever runs it.
            max_instances=2,
        )

    def sweep_now(self) -> None:
        """The safety sweep: re-arm from the store (another process may have added items)."""
        if not self._check_store_gone():
            self._arm()

    # -- sources -----------------------------------------------------------------------------

    def poll_sources(self, campaign_name: str) -> None:
        """Enqueue what a campaign's folder inbox and feed have that is new."""
        from bot.enqueue import enqueue_articles
        from bot.sources import campaign_articles
        from bot.timefmt import format_local

        campaign = self.campaigns.get(campaign_name)
        if campaign is None:
            return
        try:
            now = self._clock()
            polled = campaign_articles(campaign, self.store, commit=False, now=now, new_files_only=True)
            reports = enqueue_articles(campaign, self.store, list(polled), now=now,
                                       limits=getattr(self.pool, "limits", None))
            polled.commit()
        except StoreUnavailable as fault:
            self._store_fault(fault)
            return
        except CrieurError as error:
            log.warning("campaign %s: sources: %s", campaign_name, error)
            return
        for problem in polled.errors:
            log.warning("campaign %s: %s", campaign_name, problem)
        for report in reports:
            if report.action in ("queued", "reformatted"):
                log.info("enqueued %s for %s (%s) due %s", Path(report.source).name, report.account,
                         report.action, format_local(report.due_at, campaign.timezone))
        self._arm()

    def _schedule_sources(self) -> None:
        for campaign in self.campaigns.values():
            sources = campaign.sources
            if not (sources.folder or sources.feed or sources.files):
                continue
            name = campaign.name
            self._scheduler.add_job(
                self._job(functools.partial(self.poll_sources, name), f"polling the sources of {name}"),
                "interval",
                seconds=sources.interval.total_seconds(),
                id=f"poll:{campaign.name}",
                replace_existing=True,
                next_run_time=self._clock(),
                max_instances=1,
                coalesce=True,
            )

    # -- the long run ------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: read the campaign files again; a bad file is reported and the old version kept."""
        try:
            campaigns = {c.name: c for c in self._load_campaigns()}
        except CrieurError as error:
            log.error("reload failed, keeping the campaigns already loaded: %s", error)
            return
        self.campaigns.clear()
        self.campaigns.update(campaigns)  # the publisher shares this mapping
        if self.notifier is not None:
            self.notifier.configure(campaigns.values())
        if self._scheduler is not None:
            for job in self._scheduler.get_jobs():
                if job.id.startswith("poll:"):
                    job.remove()
            self._schedule_sources()
        log.info("reloaded %d campaign(s)", len(campaigns))
        self._arm()

    def prune_history(self) -> int:
        """Delete attempt-history rows older than `keep_history` (at start, then daily); the count."""
        if self.keep_history is None:
            return 0
        pruned = self.store.prune_attempts(self._clock() - self.keep_history)
        if pruned:
            log.info("pruned %d attempt(s) older than %s from the history", pruned, self.keep_history)
        return pruned

    def run_forever(self) -> None:
        """Serve until `stop()`; returns after the post in flight is stored and leases released."""
        from apscheduler.executors.pool import ThreadPoolExecutor as JobPool
        from apscheduler.schedulers.blocking import BlockingScheduler

        from bot.store.daemons import HEARTBEAT_INTERVAL

        self.register()
        log.info(self.startup_summary())
        skipped = logging.getLogger("apscheduler.scheduler")
        if not any(isinstance(f, _SkippedPassFilter) for f in skipped.filters):
            skipped.addFilter(_SkippedPassFilter())
        scheduler = BlockingScheduler(
            executors={"default": JobPool(4)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=timezone.utc,
        )
        self._scheduler = scheduler
        scheduler.add_job(self._job(self.sweep_now), "interval", seconds=self.sweep.total_seconds(), id="sweep")
        scheduler.add_job(self._job(self.heartbeat), "interval", seconds=HEARTBEAT_INTERVAL.total_seconds(),
                          id="heartbeat")
        if self.keep_history is not None:
            scheduler.add_job(self._job(self.prune_history), "interval", hours=24, id="prune")
        # Two stats every few seconds: a removed store is noticed before anyone starts another daemon.
        scheduler.add_job(self._job(self._check_store_gone), "interval", seconds=STORE_WATCH_S, id="store-watch")
        self._schedule_sources()
        scheduler.add_job(self._job(self.publish_due), "date", run_date=self._clock(), id="publish", misfire_grace_time=None)
        try:
            if not self.stop_event.is_set():
                scheduler.start()  # blocks until stop() shuts it down
        finally:
            self._scheduler = None
            # Wait for the posts in flight: each worker stops after its post, at the spacing wait
            # (bounded by the platform request's timeout); a worker stuck on a hung store is left:
            # its post stays in doubt in the store and is settled on restart.
            if not self.wait_idle(timeout=self.stop_grace):
                log.warning("a post in flight did not finish within %.0fs; it is settled on restart",
                            self.stop_grace)
            self._executor.shutdown(wait=False)
            self._release_on_stop()
            self.unregister()
            if self.notifier is not None:
                from bot.notify import Event

                self.notifier.emit(Event(kind="daemon_stopped", campaign=None,
                                         summary=f"crieur run on {socket.gethostname()} (pid {os.getpid()}) stopped",
                                         fix="start it again (systemctl start crieur) if the stop was not meant"))

    def _release_on_stop(self) -> None:
        """Release this daemon's leases for the other nodes, waiting a few seconds at most for a
        hung store (its leases then simply run out)."""
        done: list[int] = []

        def release() -> None:
            try:
                done.append(self.store.release_all(self.holder))
            except StoreUnavailable as fault:
                log.warning("could not release leases on stop: %s; they run out by themselves", fault.cause)
            except Exception as error:
                log.warning("could not release leases on stop: %s", error)

        worker = threading.Thread(target=release, name="release-on-stop", daemon=True)
        worker.start()
        worker.join(STOP_STORE_WAIT_S)
        if worker.is_alive():
            log.warning("the store did not answer within %.0fs on stop; leases run out by themselves",
                        STOP_STORE_WAIT_S)
        elif done and done[0]:
            log.info("released %d item(s) for other processes", done[0])

    def _job(self, fn: Callable[[], Any], what: str | None = None) -> Callable[[], None]:
        """A scheduler job that reports its own failure in one line (APScheduler would log
        "Job … raised an exception" with a traceback and no cause)."""
        name = getattr(fn, "__name__", "job")
        what = what or name.strip("_").replace("_", " ")

        def job() -> None:
            try:
                fn()
            except StoreUnavailable as fault:
                self._store_fault(fault)
            except Exception as error:
                log.error("%s failed: %s: %s", what, type(error).__name__, error,
                          exc_info=log.isEnabledFor(logging.DEBUG))

        job.__name__ = name
        job.__qualname__ = getattr(fn, "__qualname__", name)
        return job

    def stop(self) -> None:
        """Ask the daemon to stop: the post in flight finishes and is stored, then it exits.

        Safe to call from a signal handler: it only sets flags and wakes the scheduler loop.
        """
        self.stop_event.set()
        scheduler = self._scheduler
        if scheduler is not None:
            try:
                scheduler.shutdown(wait=False)
            except Exception:  # already stopping (SchedulerNotRunningError)
                pass
