"""Platform adapters: the contract, the errors, and loading a platform's adapter class.

Importing this package loads no platform SDK; each adapter module imports its own when used.
"""

from __future__ import annotations

from bot.adapters.base import Adapter, Limits, OutgoingPost, RemoteRef
from bot.adapters.errors import (
    AdapterError,
    AuthFailed,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Transient,
)

__all__ = [
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
    "load_adapter_class",
]


def load_adapter_class(platform: str) -> type[Adapter]:
    """The adapter class of `platform`'s plug-in (built-in or installed), imported now.

    :raises BadInput: no platform has that name (the message lists the known ones), its
        optional dependency is missing (the message says what to install), or the plug-in's
        adapter is not an `Adapter` subclass
    """
    from bot.platforms import get_plugin

    return get_plugin(platform).adapter_class()
