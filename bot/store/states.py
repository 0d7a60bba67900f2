"""The queue's states in one place: which moves exist, from which states, by whom, and the columns
every state implies (lease only while publishing, `ready_at` only while claimable).

Every change of an item's state in `bot.store` goes through `moved_values` (or `state_columns` for
a new row), so no method has to remember which columns go with which state. To add a state:
add it to `ItemState` (bot.store.model), give it a line in `STATES`, and add the moves that lead
into and out of it to `MOVES`; the helper enforces the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.store.model import InvalidTransition, ItemState


class Actor(StrEnum):
    """Who asks for a move: the check that a publisher never cancels and a user never claims."""

    ENQUEUE = "enqueue"  # putting threads in the queue (a command, a polled source)
    PUBLISHER = "publisher"  # a node holding (or taking) the item's lease
    DAEMON = "daemon"  # the daemon's own housekeeping (start-up re-slotting)
    USER = "user"  # a person, through the command line (or the desk)


@dataclass(frozen=True)
class StateRule:
    """What a state implies for the item's bookkeeping columns.

    `ready`: how `ready_at` (the claim index) is computed — "schedule" = max(due_at,
    next_attempt_at), "lease" = the lease's expiry (a dead holder's item is taken over then),
    None = not claimable (`ready_at` NULL). `leased`: the state carries a lease (holder + expiry);
    every other state has both NULL. `final`: nothing happens to the item without a person.
    """

    ready: str | None
    leased: bool = False
    final: bool = False


STATES: dict[ItemState, StateRule] = {
    ItemState.SCHEDULED: StateRule(ready="schedule"),
    ItemState.PUBLISHING: StateRule(ready="lease", leased=True),
    ItemState.PUBLISHED: StateRule(ready=None, final=True),
    ItemState.FAILED: StateRule(ready=None, final=True),
    ItemState.NEEDS_REVIEW: StateRule(ready=None, final=True),
    ItemState.CANCELLED: StateRule(ready=None, final=True),
    # `review: required`: never claimable until a person approves (→ scheduled) or rejects it.
    ItemState.AWAITING_REVIEW: StateRule(ready=None, final=True),
    ItemState.REJECTED: StateRule(ready=None, final=True),
}


@dataclass(frozen=True)
class Move:
    """One allowed move: from any of `sources` to `target`, asked for by one of `actors`.

    `live_lease_ok`: the move may be made while another holder's lease on a publishing item is
    still running (only the lease holder's own moves may; a person must wait for it to end).
    `refusal`: the user-facing reason when the item is in another state ({id}, {state}).
    """

    sources: frozenset[ItemState]
    target: ItemState
    actors: frozenset[Actor]
    refusal: str
    live_lease_ok: bool = False


def _move(sources: set[ItemState], target: ItemState, actors: set[Actor], refusal: str, *,
          live_lease_ok: bool = False) -> Move:
    return Move(frozenset(sources), target, frozenset(actors), refusal, live_lease_ok)


S, P = ItemState.SCHEDULED, ItemState.PUBLISHING
AR = ItemState.AWAITING_REVIEW
_HELD_BY_PERSON = {ItemState.FAILED, ItemState.NEEDS_REVIEW}

# The allowed moves, by name. A publisher's moves start from `publishing` and need its lease
# (checked by the caller against the holder); a person's moves never touch a live lease.
MOVES: dict[str, Move] = {
    # The publisher's side.
    "claim": _move({S, P}, P, {Actor.PUBLISHER}, "item {id} is {state}; it cannot be claimed"),
    "renew": _move({P}, P, {Actor.PUBLISHER}, "item {id} is {state}; its lease cannot be renewed",
                   live_lease_ok=True),
    "release": _move({P}, S, {Actor.PUBLISHER, Actor.DAEMON}, "item {id} is {state}; it cannot be released",
                     live_lease_ok=True),
    "back_off": _move({P}, S, {Actor.PUBLISHER}, "item {id} is {state}; only a publishing item can fail",
                      live_lease_ok=True),
    "publish": _move({P}, ItemState.PUBLISHED, {Actor.PUBLISHER},
                     "item {id} is {state}; it cannot become published", live_lease_ok=True),
    "fail": _move({P}, ItemState.FAILED, {Actor.PUBLISHER}, "item {id} is {state}; only a publishing item can fail",
                  live_lease_ok=True),
    "review": _move({P}, ItemState.NEEDS_REVIEW, {Actor.PUBLISHER},
                    "item {id} is {state}; only a publishing item can fail", live_lease_ok=True),
    # Enqueueing: a changed article re-formats a scheduled item in place, or replaces a stopped one.
    "reformat": _move({S}, S, {Actor.ENQUEUE}, "item {id} is {state}; it cannot be re-formatted"),
    # …and a thread that needs review goes (back) to review with its new text.
    "reformat_review": _move({S, AR}, AR, {Actor.ENQUEUE}, "item {id} is {state}; it cannot be re-formatted"),
    "replace": _move(_HELD_BY_PERSON, ItemState.CANCELLED, {Actor.ENQUEUE},
                     "item {id} is {state}; it cannot be replaced"),
    # The daemon's housekeeping: a slot missed by more than the grace moves to the next one.
    "reslot": _move({S}, S, {Actor.DAEMON}, "item {id} is {state}; only a scheduled item can be re-slotted"),
    # A person's commands.
    "cancel": _move({S, P, AR} | _HELD_BY_PERSON, ItemState.CANCELLED, {Actor.USER},
                    "item {id} is {state}; it cannot be cancelled"),
    "retry": _move(_HELD_BY_PERSON, S, {Actor.USER},
                   "item {id} is {state}; only failed or needs_review items can be retried"),
    "reschedule": _move({S, P} | _HELD_BY_PERSON, S, {Actor.USER}, "item {id} is {state}; it cannot be rescheduled"),
    "resolve": _move({S, P} | _HELD_BY_PERSON, S, {Actor.USER},
                     "item {id} is {state}; its posts cannot be resolved now"),
    "resolve_last": _move({S, P} | _HELD_BY_PERSON, ItemState.PUBLISHED, {Actor.USER},
                          "item {id} is {state}; its posts cannot be resolved now"),
    # Review (a person, on the desk or with `crieur queue approve|reject`).
    "reschedule_review": _move({AR}, AR, {Actor.USER}, "item {id} is {state}; it cannot be rescheduled"),
    "approve": _move({AR}, S, {Actor.USER}, "item {id} is {state}; only a thread awaiting review can be approved"),
    "reject": _move({AR, S}, ItemState.REJECTED, {Actor.USER}, "item {id} is {state}; it cannot be rejected"),
    # An edit of a thread that needs review: the approval covered the text approved, not this one.
    "send_back": _move({S} | _HELD_BY_PERSON, AR, {Actor.USER}, "item {id} is {state}; its posts cannot be edited"),
}

# Where a person may change a thread's posts (an edit that keeps the state is no move: it writes
# the posts and the item's version only). A thread being published is never edited.
EDITABLE_STATES = frozenset({S, AR} | _HELD_BY_PERSON)

# The states that are claimable (have `ready_at`): scheduled and publishing today.
ACTIVE_STATES = tuple(state for state, rule in STATES.items() if rule.ready is not None)


def allowed(move: str, state: ItemState | str) -> bool:
    """True when `move` may start from `state` (ignoring leases and actors)."""
    return ItemState(state) in MOVES[move].sources


def state_columns(state: ItemState, values: Mapping[str, Any]) -> dict[str, Any]:
    """The bookkeeping columns that go with `state`, computed from the item's `values` (the row
    as it will be: due_at, next_attempt_at, lease_holder, lease_expires_at).

    Raises ValueError when a leased state has no lease, or a lease is given to a state without one.
    """
    rule = STATES[state]
    out: dict[str, Any] = {"state": state}
    if rule.leased:
        if not values.get("lease_holder") or values.get("lease_expires_at") is None:
            raise ValueError(f"state {state.value} needs a lease holder and expiry")
        out["lease_holder"] = values["lease_holder"]
        out["lease_expires_at"] = values["lease_expires_at"]
    else:
        out["lease_holder"] = None
        out["lease_expires_at"] = None
    if rule.ready == "schedule":
        out["ready_at"] = max(values["due_at"], values["next_attempt_at"])
    elif rule.ready == "lease":
        out["ready_at"] = out["lease_expires_at"]
    else:
        out["ready_at"] = None
    return out


_DERIVED = frozenset({"state", "lease_holder", "lease_expires_at", "ready_at"})


def moved_values(
    move: str,
    row: Any,
    actor: Actor,
    now: datetime,
    *,
    holder: str | None = None,
    lease_expires_at: datetime | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """The column values of `row` (an item row) after `move`, for an UPDATE of that row.

    Checks the move: `actor` may make it (ValueError otherwise: a programming error); the row's
    state is one of its sources and, for a person's moves, no other holder's lease is still
    running (InvalidTransition, with the user-facing reason). `holder`/`lease_expires_at` give
    the lease of a leased target state. `changes` are other columns to set (due_at,
    attempts, …); the state, lease and `ready_at` columns are derived and may not be given.
    `updated_at` is set to `now`.
    """
    spec = MOVES[move]
    if actor not in spec.actors:
        raise ValueError(f"{actor.value} may not make the move {move!r}")
    bad = _DERIVED & set(changes)
    if bad:
        raise ValueError(f"move {move!r}: {', '.join(sorted(bad))} derive from the state; do not set them")
    state = ItemState(row.state)
    if state not in spec.sources:
        raise InvalidTransition(spec.refusal.format(id=row.id, state=state.value))
    if (
        state == ItemState.PUBLISHING
        and not spec.live_lease_ok
        and row.lease_expires_at is not None
        and row.lease_expires_at > now
    ):
        raise InvalidTransition(
            f"item {row.id} is being published right now; it cannot be {_PAST.get(move, 'changed')} "
            "(try again in a moment)"
        )
    merged = {
        "due_at": row.due_at,
        "next_attempt_at": row.next_attempt_at,
        "lease_holder": holder if holder is not None else row.lease_holder,
        "lease_expires_at": lease_expires_at if lease_expires_at is not None else row.lease_expires_at,
    }
    merged.update({k: v for k, v in changes.items() if k in merged})
    values = dict(changes)
    values.update(state_columns(spec.target, merged))
    values["updated_at"] = now
    return values


_PAST = {
    "cancel": "cancelled",
    "reschedule": "rescheduled",
    "resolve": "resolved",
    "resolve_last": "resolved",
    "claim": "claimed",
}
