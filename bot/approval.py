"""Approving a thread with its campaign's rules (grace, next free slot), for the CLI and the desk alike."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

DEFAULT_GRACE = timedelta(hours=1)


def approve_item(
    store: Any,
    item_id: int,
    by: str,
    campaigns: Mapping[str, Any],
    *,
    at_once: bool = False,
    expected_version: int | None = None,
) -> Any:
    """Approve item `item_id` for `by` (Store.approve) with its campaign's grace and its account's
    schedule when the campaign is among `campaigns` (by name); otherwise the grace stored with
    the item at enqueue and no schedule (a slot missed by more than grace then needs `at_once`)."""
    item = store.get_item(item_id)
    campaign = campaigns.get(item.campaign)
    schedule = None
    if campaign is not None:
        grace = campaign.grace
        account = campaign.accounts.get(item.account)
        if account is not None:
            from bot.enqueue import AccountSchedule

            schedule = AccountSchedule(campaign.schedule, account)
    else:
        seconds = (item.options or {}).get("grace_s")
        grace = timedelta(seconds=seconds) if isinstance(seconds, int) else DEFAULT_GRACE
    return store.approve(item_id, by, grace=grace, schedule=schedule, at_once=at_once,
                         expected_version=expected_version)


def load_campaigns_quietly(paths: list[Any]) -> dict[str, Any]:
    """The campaigns of `paths` by name ({} when there are none); a bad file is the user's to fix
    and raises CampaignError as everywhere else."""
    if not paths:
        return {}
    from bot.campaign import load_campaigns

    return {c.name: c for c in load_campaigns(paths)}


def campaign_paths(files: list[str] | None, config: str | None) -> list[Any]:
    """Campaign files named, else DIR/*.yaml of `config`, else config/campaigns/*.yaml if there."""
    from pathlib import Path

    if files:
        return [Path(p) for p in files]
    folder = Path(config or "config/campaigns")
    return sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
