"""Publish one claimed queue item through its account's adapter, post by post, crash-safely.

The store is the truth. Before each request the post is marked `unknown` (sent or not is
undecided until the platform answers); the remote id is recorded the moment the platform
accepts it, before the next post starts. So a process killed at any instant leaves either a
recorded post, a pending one, or an `unknown` one that the next attempt settles — by asking the
platform (`find_existing`) or by repeating the request under the same idempotency key — and
never by blindly posting again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.adapters import (
    Adapter,
    AuthFailed,
    OutcomeUnknown,
    OutgoingPost,
    RateLimited,
    Rejected,
    RemoteRef,
    Transient,
    load_adapter_class,
)
from bot.errors import BadInput
from bot.store import Item, ItemState, LeaseLost, PostRow, PostState, Store

log = logging.getLogger("crieur.publisher")

# Rate-limit headers as X (x-rate-limit-*) and Mastodon (X-RateLimit-*) send them; the store keeps
# the last ones seen per account, lower-cased.
_REMAINING_HEADERS = ("x-rate-limit-remaining", "x-ratelimit-remaining")
_RESET_HEADERS = ("x-rate-limit-reset", "x-ratelimit-reset")


@dataclass(frozen=True)
class PublishResult:
    """How one publishing run of an item ended: `outcome` is one of published, retry,
    deferred, paused, needs_review, failed, stopped, lost (the lease went to another holder)."""

    item_id: int
    outcome: str
    message: str = ""


def media_fingerprint(path: Path) -> str:
    """The sha256 of a media file, stored at enqueue and checked before publishing."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class AdapterPool:
    """One adapter per account, built on first use from the campaign's account and the environment.

    With `dry_run`, every account gets the dry-run adapter writing to `dryrun_path`, whatever its
    platform, and no credentials are read.
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
        self._adapters: dict[str, Adapter] = {}
        self._lock = threading.Lock()

    def get(self, account: Any) -> Adapter:
        """The adapter of `account`; BadInput when a credential is missing or a setting is wrong."""
        with self._lock:
            adapter = self._adapters.get(account.name)
            if adapter is None:
                adapter = self._build(account)
                self._adapters[account.name] = adapter
            return adapter

    def _build(self, account: Any) -> Adapter:
        if self.dry_run or account.platform == "dryrun":
            from bot.adapters.dryrun import DryRunAdapter

            settings = dict(account.settings)
            if self.dryrun_path is not None and self.dry_run:
                settings["path"] = str(self.dryrun_path)
            settings.setdefault("account", account.name)
            return DryRunAdapter.from_account(settings, {}, timeout=self.timeout, state_dir=self.state_dir)
        cls = load_adapter_class(account.platform)
        import os

        credentials = account.credentials(self.env if self.env is not None else os.environ)
        session = self.session_factory(account) if self.session_factory else None
        return cls.from_account(
            dict(account.settings), credentials, session=session, timeout=self.timeout, state_dir=self.state_dir
        )

    def close(self) -> None:
        with self._lock:
            for adapter in self._adapters.values():
                try:
                    adapter.close()
                except Exception:  # closing is best effort; the process may be stopping
                    log.debug("closing adapter failed", exc_info=True)
            self._adapters.clear()


class Publisher:
    """Publishes claimed items; one instance per process, safe to call from one thread at a time.

    `campaigns` maps campaign names to loaded campaigns (for the account settings, the spacing
    and the retry policy). `stop` is set to ask a thread in progress to stop after the post in
    flight; the wait between posts returns at once when it is set.
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
    ) -> None:
        self.store = store
        self.campaigns = campaigns
        self.adapters = adapters
        self.holder = holder
        self.lease = lease
        self.stop = stop or threading.Event()
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    # -- the whole item ----------------------------------------------------------------------

    def publish(self, item: Item) -> PublishResult:
        """Publish the rest of a claimed item (state publishing, held by this holder).

        Returns how the run ended; every outcome is already in the store when this returns.
        """
        campaign = self.campaigns.get(item.campaign)
        account = campaign.accounts.get(item.account) if campaign is not None else None
        if campaign is None or account is None:
            # Not ours to publish (a campaign this process does not serve): hand it back untouched.
            self.store.release(item.id, self.holder)
            return PublishResult(item.id, "stopped", f"campaign {item.campaign} account {item.account} not served")
        try:
            adapter = self.adapters.get(account)
        except BadInput as error:
            return self._pause_for_auth(item, f"cannot use account {item.account}: {error}")

        if item.posted_count == 0:
            problem = self._media_problem(item)
            if problem:
                return self._needs_review(item, None, problem)
            deferred = self._defer_for_budget(item)
            if deferred:
                return deferred

        reply_to = _last_ref(item)
        media_ids: tuple[str, ...] | None = None
        spacing = campaign.schedule.spacing
        first = True
        for post in item.posts:
            if post.state == PostState.POSTED:
                continue
            if not first:
                # Wait the campaign's spacing between posts; a stop request cuts the wait short
                # and the rest of the thread is handed back (it continues from here later).
                if self.stop.wait(spacing.total_seconds()):
                    self.store.release(item.id, self.holder)
                    return PublishResult(item.id, "stopped", "stopping; the thread continues later")
            first = False
            try:
                self.store.renew_lease(item.id, self.holder, self.lease)
            except LeaseLost as lost:
                return PublishResult(item.id, "lost", str(lost))
            if post.index == 1 and item.media and media_ids is None:
                try:
                    media_ids = self._upload_media(adapter, item)
                except (AuthFailed, RateLimited, Rejected, Transient) as error:
                    return self._failed(item, post, error, adapter, campaign, sent=False)
            outgoing = OutgoingPost(
                text=post.text,
                idempotency_key=post.idempotency_key,
                media_ids=(media_ids or ()) if post.index == 1 else (),
                lang=item.lang,
                spoiler_text=(item.options or {}).get("cw"),
                visibility=account.settings.get("visibility"),
            )
            try:
                ref = self._send(adapter, item, post, outgoing, reply_to)
            except _Undecidable as undecidable:
                return self._needs_review(item, post.index, str(undecidable))
            except (AuthFailed, RateLimited, Rejected, Transient) as error:
                return self._failed(item, post, error, adapter, campaign, sent=True)
            self.store.record_post(item.id, post.index, ref.id, ref.url, self._clock())
            rate_limit = adapter.rate_limit()
            if rate_limit:
                self.store.set_rate_limit(item.account, rate_limit)
            log.info("posted %s/%s of item %s (%s) → %s", post.index, len(item.posts), item.id, item.account,
                     ref.url or ref.id)
            reply_to = ref
        return PublishResult(item.id, "published")

    # -- one post ----------------------------------------------------------------------------

    def _send(self, adapter: Adapter, item: Item, post: PostRow, outgoing: OutgoingPost,
              reply_to: RemoteRef | None) -> RemoteRef:
        """Post once, never twice: settle an `unknown` post first, mark the post before sending."""
        if post.state == PostState.UNKNOWN:
            try:
                found = adapter.find_existing(outgoing, reply_to)
            except OutcomeUnknown as error:
                if not adapter.idempotent:
                    raise _Undecidable(
                        f"post {post.index} may or may not be on {item.platform} and the platform cannot "
                        f"tell ({error.message}); check the account and run "
                        f"`crieur queue resolve {item.id} --posted URL` or `--not-posted`"
                    ) from error
                found = None  # the idempotency key makes a repeat safe
            if found is not None:
                log.info("post %s of item %s was already on %s: %s", post.index, item.id, item.platform,
                         found.url or found.id)
                return found
        self.store.mark_sending(item.id, post.index, self.holder)
        try:
            return adapter.publish(outgoing, reply_to)
        except OutcomeUnknown:
            raise
        except Transient:
            # Nothing reached the platform: the post is plainly pending again.
            self.store.mark_not_sent(item.id, post.index, self.holder)
            raise
        except (AuthFailed, RateLimited, Rejected):
            self.store.mark_not_sent(item.id, post.index, self.holder)
            raise

    def _upload_media(self, adapter: Adapter, item: Item) -> tuple[str, ...]:
        ids = []
        for media in item.media:
            ids.append(adapter.upload_media(Path(media["path"]), media.get("alt", "")))
        return tuple(ids)

    # -- outcomes ------------------------------------------------------------------------------

    def _failed(self, item: Item, post: PostRow, error: Exception, adapter: Adapter, campaign: Any,
                *, sent: bool) -> PublishResult:
        now = self._clock()
        if isinstance(error, RateLimited):
            self.store.pause_account(item.account, error.retry_at, f"rate limited on {item.platform}: {error.message}")
            self.store.post_failed(item.id, str(error), retry_at=error.retry_at, index=post.index, holder=self.holder)
            log.warning("account %s rate limited until %s; item %s waits", item.account,
                        error.retry_at.isoformat(timespec="seconds"), item.id)
            return PublishResult(item.id, "paused", str(error))
        if isinstance(error, AuthFailed):
            return self._pause_for_auth(item, f"{item.platform} refused the credentials of {item.account}: "
                                              f"{error.message}", post_index=post.index)
        if isinstance(error, Rejected):
            return self._needs_review(item, post.index, f"{item.platform} rejected post {post.index}: {error}")
        # Transient (OutcomeUnknown included): back off and try again, up to the campaign's limit.
        unknown = isinstance(error, OutcomeUnknown)
        policy = campaign.retry
        attempts = item.attempts + 1
        if attempts >= policy.max_attempts:
            self.store.post_failed(item.id, f"{error} (gave up after {attempts} attempts)", final_state=ItemState.FAILED,
                                   index=post.index, unknown=unknown, holder=self.holder)
            log.error("item %s failed after %s attempts: %s", item.id, attempts, error)
            return PublishResult(item.id, "failed", str(error))
        retry_at = now + policy.delay(attempts)
        self.store.post_failed(item.id, str(error), retry_at=retry_at, index=post.index, unknown=unknown,
                               holder=self.holder)
        log.warning("item %s post %s: %s; retry at %s", item.id, post.index, error, retry_at.isoformat(timespec="seconds"))
        return PublishResult(item.id, "retry", str(error))

    def _pause_for_auth(self, item: Item, message: str, *, post_index: int | None = None) -> PublishResult:
        advice = (f"{message}. Publishing for {item.account} is paused: fix its credentials "
                  f"(crieur auth / the environment), check with `crieur accounts check`, then "
                  f"`crieur accounts resume {item.account}`")
        self.store.pause_account(item.account, None, advice)
        self.store.post_failed(item.id, advice, retry_at=self._clock(), index=post_index, holder=self.holder)
        log.error("%s", advice)
        return PublishResult(item.id, "paused", advice)

    def _needs_review(self, item: Item, index: int | None, reason: str) -> PublishResult:
        self.store.post_failed(item.id, reason, final_state=ItemState.NEEDS_REVIEW, index=index, holder=self.holder)
        log.warning("item %s needs review: %s", item.id, reason)
        return PublishResult(item.id, "needs_review", reason)

    def _media_problem(self, item: Item) -> str | None:
        """A media file that vanished or changed since enqueue stops the item (no post without its image)."""
        for media in item.media:
            path = Path(media["path"])
            if not path.is_file():
                return f"media file {path} is missing"
            expected = media.get("sha256")
            if expected and media_fingerprint(path) != expected:
                return f"media file {path} changed since the thread was queued; enqueue it again"
        return None

    def _defer_for_budget(self, item: Item) -> PublishResult | None:
        """Defer a whole thread to the rate-limit reset when the budget cannot take all of it.

        Uses the last rate-limit headers the platform sent for this account: a thread started
        without enough budget would leave a fragment on the timeline until the reset.
        """
        state = self.store.account_state(item.account)
        headers = {k.lower(): v for k, v in (state.rate_limit or {}).items()}
        remaining = _first_int(headers, _REMAINING_HEADERS)
        reset = _reset_time(headers)
        now = self._clock()
        if remaining is None or reset is None or reset <= now:
            return None
        needed = sum(1 for p in item.posts if p.state != PostState.POSTED)
        if remaining >= needed:
            return None
        message = f"rate-limit budget {remaining} < {needed} posts; whole thread deferred to the reset"
        self.store.record_attempt(item.id, "deferred", message)
        self.store.post_failed(item.id, message, retry_at=reset, holder=self.holder)
        log.info("item %s: %s at %s", item.id, message, reset.isoformat(timespec="seconds"))
        return PublishResult(item.id, "deferred", message)


class _Undecidable(Exception):
    """A post's fate cannot be decided without a person (`crieur queue resolve`)."""


def _last_ref(item: Item) -> RemoteRef | None:
    posted = [p for p in item.posts if p.state == PostState.POSTED and p.remote_id]
    return RemoteRef(posted[-1].remote_id, posted[-1].url) if posted else None


def _first_int(headers: Mapping[str, str], names: tuple[str, ...]) -> int | None:
    for name in names:
        try:
            return int(headers[name])
        except (KeyError, ValueError):
            continue
    return None


def _reset_time(headers: Mapping[str, str]) -> datetime | None:
    for name in _RESET_HEADERS:
        value = headers.get(name)
        if not value:
            continue
        try:  # X sends epoch seconds
            return datetime.fromtimestamp(int(value), timezone.utc)
        except ValueError:
            pass
        try:  # Mastodon sends an ISO 8601 time
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None
