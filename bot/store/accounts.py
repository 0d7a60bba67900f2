"""Per-account publishing state shared by every process and node: pauses and the last rate-limit headers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from bot.store.base import StoreBase, as_utc
from bot.store.model import AccountState
from bot.store.schema import accounts


class AccountsMixin(StoreBase):
    """Pause, resume and rate-limit bookkeeping per account (an account name is global)."""

    def pause_account(
        self, account: str, until: datetime | None, reason: str, *, now: datetime | None = None
    ) -> AccountState:
        """Stop claiming the account's items until `until` (None: until `resume_account`), saying why.

        A later pause replaces an earlier one. `reason` is shown to the user; it must not be empty.
        """
        now = self._now(now)
        if not reason:
            raise ValueError("a pause needs a reason")
        until = as_utc(until, "until") if until is not None else None
        with self._write() as conn:
            conn.execute(
                self._insert(accounts)
                .values(account=account, paused_until=until, pause_reason=reason, updated_at=now)
                .on_conflict_do_update(
                    index_elements=[accounts.c.account],
                    set_=dict(paused_until=until, pause_reason=reason, updated_at=now),
                )
            )
        return self.account_state(account)

    def resume_account(self, account: str, *, now: datetime | None = None) -> AccountState:
        """Lift the account's pause, if any."""
        now = self._now(now)
        with self._write() as conn:
            conn.execute(
                accounts.update()
                .where(accounts.c.account == account)
                .values(paused_until=None, pause_reason=None, updated_at=now)
            )
        return self.account_state(account)

    def set_rate_limit(self, account: str, headers: Mapping[str, str], *, now: datetime | None = None) -> None:
        """Remember the rate-limit headers the platform last sent for the account (replacing the previous)."""
        now = self._now(now)
        data = {str(k): str(v) for k, v in headers.items()}
        with self._write() as conn:
            conn.execute(
                self._insert(accounts)
                .values(account=account, rate_limit=data, rate_limit_at=now, updated_at=now)
                .on_conflict_do_update(
                    index_elements=[accounts.c.account],
                    set_=dict(rate_limit=data, rate_limit_at=now, updated_at=now),
                )
            )

    def account_state(self, account: str) -> AccountState:
        """The account's state; an account never seen has the default (not paused, no headers)."""
        with self._read() as conn:
            row = conn.execute(select(accounts).where(accounts.c.account == account)).first()
        if row is None:
            return AccountState(account=account)
        return AccountState(
            account=account,
            paused_until=row.paused_until,
            pause_reason=row.pause_reason,
            rate_limit=dict(row.rate_limit or {}),
            rate_limit_at=row.rate_limit_at,
        )

    def paused_accounts(self, now: datetime | None = None) -> list[AccountState]:
        """Every account paused at `now`, by name."""
        now = self._now(now)
        with self._read() as conn:
            names: list[str] = list(conn.execute(
                select(accounts.c.account).where(accounts.c.pause_reason.is_not(None)).order_by(accounts.c.account)
            ).scalars().all())
        states = [self.account_state(n) for n in names]
        return [s for s in states if s.is_paused(now)]
