"""Platform adapters: the contract, the errors, and loading an adapter class by entry point.

Importing this package loads no platform SDK; each adapter module imports its own when used.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from bot.adapters.base import Adapter, Limits, OutgoingPost, RemoteRef
from bot.adapters.errors import (
    AdapterError,
    AuthFailed,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Transient,
)
from bot.errors import BadInput

__all__ = [
    "ENTRY_POINT_GROUP",
    "Adapter",
    "AdapterError",
    "AuthFailed",
    "Limits",
    "OutcomeUnknown",
    "OutgoingPost",
    "RateLimited",
    "Rejected",
    "RemoteRef",
    "Transient",
    "available_adapters",
    "load_adapter_class",
]

ENTRY_POINT_GROUP = "crieur.adapters"


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_adapters() -> list[str]:
    """The names of the installed adapters (built-in and third-party), sorted."""
    return sorted(_entry_points())


def load_adapter_class(platform: str) -> type[Adapter]:
    """The adapter class registered under `platform` in the `crieur.adapters` entry-point group.

    :raises BadInput: no adapter has that name (the message lists the installed ones), or its
        optional dependency is missing (the message says what to install)
    :raises TypeError: the entry point names something that is not an `Adapter` subclass
    """
    found = _entry_points()
    try:
        entry_point = found[platform]
    except KeyError:
        installed = ", ".join(sorted(found)) or "none"
        raise BadInput(f'no adapter named "{platform}"; installed: {installed}') from None
    try:
        cls = entry_point.load()
    except ImportError as exc:
        # An optional SDK missing (atproto for bluesky) should read as an install hint, not a traceback.
        raise BadInput(
            f'adapter "{platform}" cannot be loaded: {exc}; '
            f"try: pip install 'crieur[{platform}]'"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise TypeError(f'entry point "{platform}" ({entry_point.value}) is not a bot.adapters.Adapter subclass')
    return cls
