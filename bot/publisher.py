"""Publish one claimed queue item through its account's adapter, post by post, crash-safely.

The store is the truth. Before each request the post is marked `unknown` (sent or not is
undecided until the platform answers); the remote id is recorded the moment the platform
accepts it, before the next post starts. So a process killed at any instant leaves either a
recorded post, a pending one, or an `unknown` one that the next attempt settles — by asking the
platform (`find_existing`) or by repeating the request under the same idempotency key — and
never by blindly posting again.

What each adapter error does to the item (every outcome is in the store before `publish` returns):

- `Transient` (5xx, network): retry later, `next_attempt_at` = now + the campaign's backoff with
  jitter; `failed` once the campaign's `max_attempts` is reached. `OutcomeUnknown` (the request may
  have gone through) also leaves the post `unknown`, to be settled before anything is re-sent.
- `RateLimited`: the account is paused until the platform's reset; the item waits, not counted
  as a failed attempt; other accounts go on.
- `AuthFailed` (or credentials missing): the account is paused until `crieur accounts resume`,
  the item keeps its place and says what to do; the adapter is rebuilt (credentials re-read) next time.
- `Rejected` (duplicate, too long, invalid media), a changed or missing media file, or an
  `unknown` post a non-idempotent platform cannot settle: `needs_review`, with the reason.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.adapters import (
    Adapter,
    AdapterError,
    AuthFailed,
    OutcomeUnknown,
    OutgoingPost,
    RateLimited,
    Rejected,
    RemoteRef,
    Transient,
    load_adapter_class,
)
from bot.adapters.errors import redact
from bot.errors import BadInput
from bot.platforms import get_plugin
from bot.store import Item, ItemState, LeaseLost, PostRow, PostState, Store, StoreError

log = logging.getLogger("crieur.publisher")

# Libraries the adapters use that log credentials at DEBUG level: requests-oauthlib and oauthlib
# print the OAuth 1.0a consumer key, access token and Authorization header; tweepy prints request
# headers, an OAuth 2.0 bearer token included. `--log-level DEBUG` must not put them in a log.
_CREDENTIAL_LOGGERS = ("oauthlib", "requests_oauthlib", "tweepy")

# Backoff jitter: a retry waits between 80 % and 100 % of the campaign's delay, so threads that
# failed together (an outage) do not all come back in the same second, and the campaign's
# `maximum` stays a true maximum.
_JITTER = 0.2
# Margin for the difference between this machine's clock and the platform's, when a lookup
# reads the account's posts created since a thread was queued.
_CLOCK_SKEW = timedelta(minutes=10)
# The shortest pause after a 429, whatever reset time the platform gave.
_MIN_RATE_LIMIT_PAUSE = timedelta(seconds=5)


@dataclass(frozen=True)
class PublishResult:
    """How one publishing run of an item ended: `outcome` is one of published, retry,
    deferred, paused, needs_review, failed, stopped, lost (the lease went to another holder)."""

    item_id: int
    outcome: str
    message: str = ""


def _duration(span: timedelta) -> str:
    hours, rest = divmod(int(span.total_seconds()), 3600)
    return f"{hours} h" if hours and not rest else f"{int(span.total_seconds() // 60)} min"


def media_fingerprint(path: Path) -> str:
    """The sha256 of a media file, stored at enqueue and checked before publishing."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def quiet_credential_loggers() -> None:
    """Keep the libraries that log credentials at DEBUG level at INFO at most (idempotent)."""
    for name in _CREDENTIAL_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


class AdapterPool:
    """One adapter per account, built on first use from the campaign's account and the environment.

    With `dry_run`, every account gets the dry-run adapter writing to `dryrun_path` (else the
    account's `output:`, else queue/dryrun.jsonl), whatever its platform, and no credentials are
    read. A dryrun account (`platform: dryrun`) writes to its `output:` outside a dry run too.
    An account whose definition changed (campaign reloaded) gets a new adapter; `discard` drops
    one so that the next use re-reads the credentials (after an authentication failure).
    """

    def __init__(
        self,
        *,
        dry_run: bool = False,
        dryrun_path: Path | None = None,
        timeout: float = 10.0,
        state_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        session_factory: Callable[[Any], Any] | None = None,
    ) -> None:
        self.dry_run = dry_run
        self.dryrun_path = dryrun_path
        self.timeout = timeout
        self.state_dir = state_dir
        self.env = env
        # Tests route the real HTTP clients to fake servers through a session per account.
        self.session_factory = session_factory
        # account name -> (the account's definition when built, adapter, its secret values)
        self._adapters: dict[str, tuple[Any, Adapter, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        # Optional view of each adapter handed out (the daemon's metrics time the platform calls).
        self.wrap: Callable[[Adapter, Any], Adapter] | None = None
        # The accounts' server limits (a Mastodon instance's own), kept beside the sessions.
        from bot.live_limits import LiveLimits

        self.limits = LiveLimits(state_dir, session_factory=session_factory, timeout=timeout)
        quiet_credential_loggers()

    def get(self, account: Any) -> Adapter:
        """The adapter of `account`; BadInput when a credential is missing or a setting is wrong."""
        definition = account.definition() if hasattr(account, "definition") else None
        with self._lock:
            entry = self._adapters.get(account.name)
            if entry is None or entry[0] != definition:
                if entry is not None:
                    _close_quietly(entry[1])
                adapter, secrets = self._build(account)
                entry = (definition, adapter, secrets)
                self._adapters[account.name] = entry
        return self.wrap(entry[1], account) if self.wrap is not None else entry[1]

    def secrets(self, account_name: str) -> tuple[str, ...]:
        """The credential values read for the account (to redact them from messages); () if none."""
        with self._lock:
            entry = self._adapters.get(account_name)
        return entry[2] if entry else ()

    def discard(self, account_name: str) -> None:
        """Forget the account's adapter: the next `get` builds a new one, reading credentials again."""
        with self._lock:
            entry = self._adapters.pop(account_name, None)
        if entry is not None:
            _close_quietly(entry[1])

    def _build(self, account: Any) -> tuple[Adapter, tuple[str, ...]]:
        if self.dry_run or get_plugin(account.platform).simulated:
            from bot.adapters.dryrun import DryRunAdapter

            settings = dict(account.settings)
            # The campaign calls the file `output:`; the adapter calls it `path`.
            path = self.dryrun_path if self.dry_run and self.dryrun_path is not None else settings.get("output")
            if path:
                settings["path"] = str(path)
            settings.setdefault("account", account.name)
            dry: Adapter = DryRunAdapter.from_account(settings, {}, timeout=self.timeout, state_dir=self.state_dir)
            return dry, ()
        cls = load_adapter_class(account.platform)
        credentials = account.credentials(self.env if self.env is not None else os.environ)
        session = self.session_factory(account) if self.session_factory else None
        adapter = cls.from_account(
            dict(account.settings), credentials, session=session, timeout=self.timeout, state_dir=self.state_dir
        )
        return adapter, tuple(v for v in credentials.values() if v)

    def close(self) -> None:
        with self._lock:
            entries = list(self._adapters.values())
            self._adapters.clear()
        for entry in entries:
            _close_quietly(entry[1])


def _close_quietly(adapter: Adapter) -> None:
    try:
        adapter.close()
    except Exception:  # closing is best effort; the process may be stopping
        log.debug("closing adapter failed", exc_info=True)


class Publisher:
    """Publishes claimed items; one instance per process, safe to call from one thread at a time.

    `campaigns` maps campaign names to loaded campaigns (for the account settings, the spacing
    and the retry policy); the daemon shares and updates that mapping on reload. `stop` is set to
    ask a thread in progress to stop after the post in flight; the wait between posts returns at
    once when it is set. `clock` gives the time used for retries and records (aware UTC).
    """

    def __init__(
        self,
        store: Store,
        campaigns: Mapping[str, Any],
        adapters: AdapterPool,
        *,
        holder: str,
        lease: timedelta = timedelta(seconds=30),
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] | None = None,
        caps: Mapping[str, tuple[tuple[timedelta, int], ...]] | None = None,
    ) -> None:
        self.store = store
        # Per platform, what one account may post (window, posts); None: each plug-in's `caps`.
        self.caps = caps
        self.campaigns = campaigns
        self.adapters = adapters
        self.holder = holder
        self.lease = lease
        self.stop = stop or threading.Event()
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._random = random.Random()

    # -- the whole item ----------------------------------------------------------------------

    def publish(self, item: Item) -> PublishResult:
        """Publish the rest of a claimed item (state publishing, held by this holder).

        Posts the first post not yet posted as a reply to the last posted one, records its remote
        id, waits the campaign's spacing, and so on to the end of the thread. Returns how the run
        ended; every outcome is already in the store when this returns. Adapter failures never
        escape (they become outcomes); a store failure does, leaving at worst an `unknown` post.
        """
        try:
            return self._publish(item)
        except LeaseLost as lost:
            # Another holder took the item (this one stalled past its lease): it is theirs now.
            log.warning("item %s: %s; stopped publishing it", item.id, lost)
            return PublishResult(item.id, "lost", str(lost))

    def _publish(self, item: Item) -> PublishResult:
        campaign = self.campaigns.get(item.campaign)
        if campaign is None:
            # A campaign this process does not serve (claims are filtered by campaign, so only a
            # reload in between gets here): hand it back untouched for whoever serves it.
            self.store.release(item.id, self.holder)
            return PublishResult(item.id, "stopped", f"campaign {item.campaign} is not served here")
        account = campaign.accounts.get(item.account)
        if account is None:
            # Releasing would hand the same item straight back to this process, forever.
            return self._needs_review(item, None, (
                f"account {item.account} is no longer in campaign {item.campaign}; put it back and "
                f"run `crieur queue retry {item.id}`, or `crieur queue cancel {item.id}`"))
        try:
            adapter = self.adapters.get(account)
        except BadInput as error:
            return self._pause_for_auth(item, f"cannot use account {item.account}: {error}")

        if item.posted_count == 0:
            problem = self._media_problem(item) or self._limit_problem(item, account)
            if problem:
                return self._needs_review(item, None, problem)
            deferred = self._defer_for_budget(item)
            if deferred:
                return deferred

        reply_to = _last_ref(item)
        media_ids: tuple[str, ...] | None = None
        spacing = campaign.schedule.spacing
        todo = [post for post in item.posts if post.state != PostState.POSTED]
        # The post already written ahead (marked unknown) in the same commit as the previous
        # record: with no spacing, one durable commit per post (Store.record_and_continue).
        premarked: int | None = None
        for number, post in enumerate(todo):
            # One renewal per post, covering the wait too, so that no other node takes the thread
            # in the middle (it also tells at once when one did: LeaseLost). The claim that handed
            # us the item set a fresh lease for the first post; record_and_continue renews it.
            if number and premarked is None:
                self.store.renew_lease(item.id, self.holder, self.lease + spacing)
            if number and self.stop.wait(spacing.total_seconds()):
                # A stop request cuts the wait short; the rest of the thread continues later.
                if premarked is not None:
                    self.store.mark_not_sent(item.id, premarked, self.holder)
                self.store.release(item.id, self.holder)
                return PublishResult(item.id, "stopped", "stopping; the thread continues later")
            in_doubt = was_in_doubt = post.state == PostState.UNKNOWN
            try:
                ref = None
                if in_doubt:
                    ref, in_doubt = self._settle(adapter, item, post, reply_to)
                if ref is None:
                    if post.index == 1 and item.media and media_ids is None:
                        media_ids = self._upload_media(adapter, item)
                    outgoing = self._outgoing(item, post, account, media_ids if post.index == 1 else None)
                    try:
                        ref = self._send(adapter, item, post, outgoing, reply_to, in_doubt=in_doubt,
                                         written_ahead=premarked == post.index)
                    except Rejected as refused:
                        if not (was_in_doubt and refused.reason == "duplicate"):
                            raise
                        # Refused as a duplicate right after a send in doubt: the post IS there
                        # (the lookup came too early for a lagging timeline). Look again, or stop.
                        ref = self._found_after_duplicate(adapter, item, post, reply_to)
            except _Undecidable as undecidable:
                return self._needs_review(item, post.index, str(undecidable), unknown=undecidable.unknown)
            except _MediaFailed as failed:
                return self._failed(item, post, failed.error, campaign, unknown=in_doubt, media=True)
            except AdapterError as error:
                unknown = in_doubt or isinstance(error, OutcomeUnknown)
                return self._failed(item, post, error, campaign, unknown=unknown)
            except (LeaseLost, StoreError):
                # A store fault is not the platform's nor the thread's: no attempt is counted and
                # nothing is marked. A post whose sending was not written ahead was not sent; one
                # written ahead stays `unknown` in the store and is settled when the thread resumes.
                raise
            except Exception as error:
                cause = self._redact(item, f"{type(error).__name__}: {error}")
                if _never_sent(error):
                    # Refused while the request was being built (a header a credential broke):
                    # it never left this machine, so the post is not in doubt.
                    if not in_doubt:
                        self.store.mark_not_sent(item.id, post.index, self.holder)
                    return self._pause_for_auth(
                        item, f"cannot send with the credentials of {item.account}: {cause}", post_index=post.index)
                # An adapter bug or a library surprise: the request may have gone out, so the post
                # stays in doubt; retrying with backoff (bounded) beats a daemon crash loop.
                log.error("item %s post %s: unexpected %s", item.id, post.index, cause,
                          exc_info=log.isEnabledFor(logging.DEBUG))
                surprise = OutcomeUnknown(f"unexpected {cause}", platform=item.platform)
                return self._failed(item, post, surprise, campaign, unknown=True)
            following = todo[number + 1] if number + 1 < len(todo) else None
            premarked = None
            if not spacing and (following is None or following.state == PostState.PENDING) and \
                    self.store.record_and_continue(item.id, post.index, ref.id, ref.url, self._clock(),
                                                   holder=self.holder, lease=self.lease,
                                                   next_index=following.index if following else None):
                premarked = following.index if following else None
            else:
                self.store.record_post(item.id, post.index, ref.id, ref.url, self._clock(), fetch=False)
            self._remember_rate_limit(item, adapter)
            log.info("posted %s/%s of item %s (%s) → %s", post.index, len(item.posts), item.id, item.account,
                     ref.url or ref.id)
            reply_to = ref
        return PublishResult(item.id, "published")

    # -- one post ----------------------------------------------------------------------------

    def _settle(self, adapter: Adapter, item: Item, post: PostRow,
                reply_to: RemoteRef | None) -> tuple[RemoteRef | None, bool]:
        """Decide an `unknown` post: (its remote ref, _) if it is on the platform, (None, False)
        if it certainly is not, (None, True) if undecided but the adapter may safely repeat it.

        :raises _Undecidable: undecided and repeating could post twice (no idempotency key)
        """
        probe = OutgoingPost(text=post.text, idempotency_key=post.idempotency_key, lang=item.lang,
                             not_before=item.created_at - _CLOCK_SKEW)
        try:
            found = adapter.find_existing(probe, reply_to)
        except OutcomeUnknown as error:
            if not adapter.idempotent:
                raise _Undecidable(
                    f"post {post.index} may or may not be on {item.platform} and the platform cannot "
                    f"tell ({error.message}); look at the account, then run "
                    f"`crieur queue resolve {item.id} --posted URL` or `--not-posted`"
                ) from error
            expired = self._key_expired(adapter, post)
            if expired:
                raise _Undecidable(
                    f"post {post.index} may or may not be on {item.platform}: the lookup failed ({error.message}) "
                    f"and {expired}, so sending it again could post it twice; look at the account, then run "
                    f"`crieur queue resolve {item.id} --posted URL` or `--not-posted`", unknown=True
                ) from error
            return None, True  # the idempotency key makes a repeat safe
        if found is not None:
            log.info("post %s of item %s was already on %s: %s", post.index, item.id, item.platform,
                     found.url or found.id)
            return found, False
        return None, False

    def _key_expired(self, adapter: Adapter, post: PostRow) -> str | None:
        """Why the post's idempotency key may no longer be honoured (first sent longer ago than the
        platform keeps keys, less a margin for clock differences), or None while it is.

        :raises AdapterError: the platform cannot say how long it keeps keys (retried later)
        """
        window = adapter.idempotency_window()
        if window is None or post.sent_at is None:
            return None  # keys kept for ever, or a post from before sent times were stored
        elapsed = self._clock() - post.sent_at
        if elapsed < window - _CLOCK_SKEW:
            return None
        minutes = int(elapsed.total_seconds() // 60)
        kept = f"keeps an idempotency key {_duration(window)}" if window else "does not honour idempotency keys"
        return f"it was first sent {minutes} min ago and the server {kept}"

    def _found_after_duplicate(self, adapter: Adapter, item: Item, post: PostRow,
                               reply_to: RemoteRef | None) -> RemoteRef:
        """The post in doubt was refused as a duplicate, so it exists: find it, or raise
        _Undecidable with the exact command that records it (the post stays in doubt, so
        `queue retry` cannot loop on the same refusal)."""
        probe = OutgoingPost(text=post.text, idempotency_key=post.idempotency_key, lang=item.lang,
                             not_before=item.created_at - _CLOCK_SKEW)
        try:
            found = adapter.find_existing(probe, reply_to)
        except OutcomeUnknown:
            found = None
        if found is not None:
            log.info("post %s of item %s was already on %s (refused as a duplicate): %s", post.index, item.id,
                     item.platform, found.url or found.id)
            return found
        where = f"as a reply to {reply_to.url or reply_to.id}" if reply_to else "on the account"
        raise _Undecidable(
            f"post {post.index} was sent before and {item.platform} now refuses it as a duplicate, but it is not "
            f"visible yet {where}; find it there, then run `crieur queue resolve {item.id} --post {post.index} "
            f"--posted URL`", unknown=True)

    def _send(self, adapter: Adapter, item: Item, post: PostRow, outgoing: OutgoingPost,
              reply_to: RemoteRef | None, *, in_doubt: bool, written_ahead: bool = False) -> RemoteRef:
        """Post once, never twice: mark the post `unknown` (durably) before the request
        (`written_ahead`: already done, in the commit that recorded the previous post).

        A failure that certainly did not apply the request makes the post pending again, unless
        an earlier request is still `in_doubt` (then it stays unknown for the next attempt).
        """
        if not written_ahead:
            self.store.mark_sending(item.id, post.index, self.holder)
        try:
            return adapter.publish(outgoing, reply_to)
        except OutcomeUnknown:
            raise
        except (Transient, AuthFailed, RateLimited, Rejected):
            if not in_doubt:
                self.store.mark_not_sent(item.id, post.index, self.holder)
            raise

    def _outgoing(self, item: Item, post: PostRow, account: Any, media_ids: tuple[str, ...] | None) -> OutgoingPost:
        return OutgoingPost(
            text=post.text,
            idempotency_key=post.idempotency_key,
            media_ids=media_ids or (),
            lang=item.lang,
            spoiler_text=(item.options or {}).get("cw") or None,
            visibility=account.settings.get("visibility"),
        )

    def _upload_media(self, adapter: Adapter, item: Item) -> tuple[str, ...]:
        """Upload the item's media (with alt texts) for its first post.

        An upload only stores bytes on the platform; repeating it is harmless, so its failures
        never put the post in doubt (raised as `_MediaFailed`).
        """
        ids = []
        for media in item.media:
            try:
                ids.append(adapter.upload_media(Path(media["path"]), media.get("alt", "")))
            except AdapterError as error:
                raise _MediaFailed(error) from error
        return tuple(ids)

    # -- outcomes ------------------------------------------------------------------------------

    def _failed(self, item: Item, post: PostRow, error: AdapterError, campaign: Any, *, unknown: bool,
                media: bool = False) -> PublishResult:
        what = f"media of post {post.index}" if media else f"post {post.index}"
        if isinstance(error, RateLimited):
            return self._pause_for_rate_limit(item, post, error)
        if isinstance(error, AuthFailed):
            message = f"{item.platform} refused the credentials of {item.account}: {self._redact(item, error.message)}"
            # The cached adapter holds the refused credentials: build a new one after the fix.
            self.adapters.discard(item.account)
            return self._pause_for_auth(item, message, post_index=post.index)
        if isinstance(error, Rejected):
            reason = self._redact(item, error.message)
            return self._needs_review(item, post.index, f"{item.platform} rejected {what} ({error.reason}): {reason}")
        # Transient (OutcomeUnknown included): back off and try again, up to the campaign's limit.
        message = self._redact(item, f"{what}: {error}")
        policy = campaign.retry
        attempts = item.attempts + 1
        if attempts >= policy.max_attempts:
            advice = ""
            if unknown:
                advice = (f"; whether post {post.index} went out is unknown: settle it with "
                          f"`crieur queue resolve {item.id} --posted URL` or `--not-posted`")
            self.store.post_failed(item.id, f"{message} (gave up after {attempts} attempts){advice}",
                                   final_state=ItemState.FAILED, index=post.index, unknown=unknown,
                                   holder=self.holder)
            log.error("item %s failed after %s attempts: %s", item.id, attempts, message)
            return PublishResult(item.id, "failed", message)
        retry_at = self._clock() + self._backoff(policy, attempts)
        self.store.post_failed(item.id, message, retry_at=retry_at, index=post.index, unknown=unknown,
                               holder=self.holder)
        log.warning("item %s %s; attempt %s of %s, next at %s", item.id, message, attempts, policy.max_attempts,
                    retry_at.isoformat(timespec="seconds"))
        return PublishResult(item.id, "retry", message)

    def _backoff(self, policy: Any, attempts: int) -> timedelta:
        """The campaign's delay before retry number `attempts`, minus up to _JITTER of it."""
        delay: timedelta = policy.delay(attempts)
        return delay * (1 - _JITTER * self._random.random())

    def _pause_for_rate_limit(self, item: Item, post: PostRow, error: RateLimited) -> PublishResult:
        # Not the thread's fault: no attempt is counted; the item keeps its place and goes on
        # (as a reply to what is out) once the account's pause ends at the platform's reset.
        message = self._redact(item, f"rate limited on {item.platform}: {error.message}")
        # A reset already past (clock skew) must still stop the daemon from hammering the platform.
        until = max(error.retry_at, self._clock() + _MIN_RATE_LIMIT_PAUSE)
        self.store.pause_account(item.account, until, message)
        self.store.record_attempt(item.id, "rate_limited", f"{message}; paused until {until.isoformat()}",
                                  index=post.index)
        self.store.release(item.id, self.holder)
        log.warning("account %s rate limited until %s; item %s waits", item.account,
                    until.isoformat(timespec="seconds"), item.id)
        return PublishResult(item.id, "paused", message)

    def _pause_for_auth(self, item: Item, message: str, *, post_index: int | None = None) -> PublishResult:
        advice = (f"{message}. Publishing for {item.account} is paused: fix its credentials "
                  f"(crieur auth / the environment), check them with `crieur accounts check`, then run "
                  f"`crieur accounts resume {item.account}`; queued threads are kept")
        self.store.pause_account(item.account, None, advice)
        # Not the thread's fault: the item keeps all its attempts for real failures.
        self.store.post_failed(item.id, advice, retry_at=self._clock(), index=post_index, holder=self.holder,
                               count=False)
        log.error("%s", advice)
        return PublishResult(item.id, "paused", advice)

    def _needs_review(self, item: Item, index: int | None, reason: str, *, unknown: bool = False) -> PublishResult:
        self.store.post_failed(item.id, reason, final_state=ItemState.NEEDS_REVIEW, index=index, holder=self.holder,
                               unknown=unknown)
        log.warning("item %s needs review: %s", item.id, reason)
        return PublishResult(item.id, "needs_review", reason)

    def _media_problem(self, item: Item) -> str | None:
        """A media file that vanished or changed since enqueue stops the item (no post without its image)."""
        for media in item.media:
            path = Path(media["path"])
            if not path.is_file():
                return f"media file {path} is missing; put it back, or enqueue the article again"
            expected = media.get("sha256")
            if expected and media_fingerprint(path) != expected:
                return f"media file {path} changed since the thread was queued; enqueue the article again"
        return None

    def _limit_problem(self, item: Item, account: Any) -> str | None:
        """Does the thread still fit what the account's server allows now? Read again just before
        the first post (at most `live_limits.RECHECK` old): an instance that lowered its limit since
        the thread was queued would refuse a post halfway through the thread. The campaign's
        explicit `limit` wins, as at enqueue; a server that cannot be read is not a reason to stop
        (its refusal would be)."""
        if self.adapters.dry_run or account.settings.get("limit"):
            return None
        from bot.live_limits import RECHECK, check_fits, resolve
        from bot.platforms import get_platform

        # A short timeout: this runs under the thread's lease, before its first post.
        server = self.adapters.limits.for_account(account, max_age=RECHECK, shared=False, timeout=5.0)
        if server is None or not server.limit:
            return None
        options = item.options or {}
        overrides = resolve(account, server).overrides  # as at enqueue, with today's figures
        profile = options.get("profile") or account.profile
        try:
            accepted = get_plugin(profile).profile_class().overrides
            platform = get_platform(profile, **{k: v for k, v in overrides.items() if k in accepted})
        except BadInput:
            return None  # a platform no longer installed: publishing will say so
        posts = [(p.index, p.text, options.get("cw")) for p in item.posts if p.state != PostState.POSTED]
        problem = check_fits(posts, platform)
        if problem is None:
            return None
        return (f"{problem} ({server.describe()}); the thread was formatted for "
                f"{options.get('limit', '?')}: edit it, or enqueue the article again")

    def _defer_for_budget(self, item: Item) -> PublishResult | None:
        """Defer a whole thread until the account's budget can take all of it.

        The budget is what the platform said last (every remaining/reset header pair of its
        plug-in's `rate_limit_headers`) and what it is known to allow (the plug-in's `caps`,
        counted from the posts recorded in the store): a thread started without enough budget would leave a fragment on the timeline
        until the reset. The account waits (its other threads could not start either); no
        attempt is counted.
        """
        now = self._clock()
        needed = sum(1 for p in item.posts if p.state != PostState.POSTED)
        waits: list[tuple[datetime, str]] = []
        state = self.store.account_state(item.account)
        headers = {k.lower(): v for k, v in (state.rate_limit or {}).items()}
        plugin = get_plugin(item.platform)
        for remaining_name, reset_name in plugin.rate_limit_headers:
            remaining = _int(headers.get(remaining_name))
            reset = _time(headers.get(reset_name))
            if remaining is not None and reset is not None and reset > now and remaining < needed:
                waits.append((reset, f"{remaining} request(s) left until {reset.isoformat(timespec='seconds')}"))
        caps = plugin.caps if self.caps is None else self.caps.get(item.platform, ())
        for window, cap in caps:
            if needed > cap:
                continue  # can never fit whole: posting it is the only way it goes out at all
            posted = self.store.posted_times(item.account, now - window)
            over = len(posted) + needed - cap
            if over > 0:
                # Enough of the posts in the window must have left it for the whole thread to fit.
                free_at = posted[over - 1] + window
                waits.append((free_at, f"{len(posted)} posts in the last {window} (cap {cap})"))
        if not waits:
            return None
        until, why = max(waits)
        message = (f"budget of {item.account}: the thread needs {needed} post(s), {why}; "
                   f"it waits until {until.isoformat(timespec='seconds')}")
        self.store.pause_account(item.account, until, message)
        self.store.record_attempt(item.id, "deferred", message)
        self.store.release(item.id, self.holder)
        log.info("item %s: %s", item.id, message)
        return PublishResult(item.id, "deferred", message)

    def _remember_rate_limit(self, item: Item, adapter: Adapter) -> None:
        rate_limit = adapter.rate_limit()
        if rate_limit:
            self.store.set_rate_limit(item.account, rate_limit)

    def _redact(self, item: Item, text: str) -> str:
        # Adapters redact their messages already; this is the second lock on the door, for
        # whatever text reaches the store or the log from here.
        return redact(text, self.adapters.secrets(item.account))


class _Undecidable(Exception):
    """A post's fate cannot be decided without a person (`crieur queue resolve`); `unknown`:
    the post is left in doubt in the store (retry refuses until it is resolved)."""

    def __init__(self, message: str, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


class _MediaFailed(Exception):
    """Uploading the media of the first post failed with `error` (the post itself was not sent)."""

    def __init__(self, error: AdapterError) -> None:
        super().__init__(str(error))
        self.error = error


def _never_sent(error: Exception) -> bool:
    """True for errors raised while a request was prepared, before any byte left (requests
    refuses a header value with a control character, a URL it cannot parse)."""
    try:
        from requests.exceptions import InvalidHeader, InvalidURL
    except ImportError:  # pragma: no cover - requests is a dependency
        return False
    return isinstance(error, (InvalidHeader, InvalidURL))


def _last_ref(item: Item) -> RemoteRef | None:
    posted = [p for p in item.posts if p.state == PostState.POSTED and p.remote_id]
    return RemoteRef(posted[-1].remote_id, posted[-1].url) if posted else None  # type: ignore[arg-type]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _time(value: str | None) -> datetime | None:
    """A reset time as X and Bluesky send it (epoch seconds) or Mastodon (ISO 8601)."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(int(value), timezone.utc)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
