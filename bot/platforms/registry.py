"""Finding platform plug-ins: the built-in ones by name, the others by entry point, once."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from bot.errors import BadInput
from bot.platforms.builtin import BUILTIN
from bot.platforms.plugin import PlatformPlugin

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["ADAPTER_GROUP", "BUILTIN", "ENTRY_POINT_GROUP", "builtin_names", "default_preview_names", "forget", "get_plugin", "is_builtin",
           "label_of", "loaded_plugin", "plugin_names"]

log = logging.getLogger(__name__)

#: Where a third-party package registers its `PlatformPlugin` (the entry point names the object).
ENTRY_POINT_GROUP = "crieur.platforms"
#: The older group, for an adapter class alone: it gets a plug-in with the defaults (grapheme
#: counting, any account keys, no caps).
ADAPTER_GROUP = "crieur.adapters"

_lock = threading.Lock()
_entry_points: dict[str, EntryPoint] | None = None
_loaded: dict[str, PlatformPlugin] = {}
_broken: dict[str, BadInput] = {}  # plug-ins that failed to load: said again, not imported again


def builtin_names() -> tuple[str, ...]:
    """The built-in platforms, known without looking at installed packages."""
    return tuple(BUILTIN)


def is_builtin(name: object) -> bool:
    return isinstance(name, str) and name in BUILTIN


def default_preview_names() -> tuple[str, ...]:
    """The platforms `crieur preview` formats for when none is named."""
    return tuple(name for name, plugin in BUILTIN.items() if plugin.in_default_preview)


def label_of(name: str) -> str:
    """The platform's name as people write it ("X", "Bluesky"); the name itself when unknown."""
    try:
        return get_plugin(name).label
    except BadInput:
        return name


def plugin_names() -> list[str]:
    """Every platform: the built-in ones, then the installed plug-ins' (sorted)."""
    extra = sorted(set(_scan()) - set(BUILTIN))
    return [*BUILTIN, *extra]


def get_plugin(name: str) -> PlatformPlugin:
    """The plug-in for platform `name`.

    A built-in name is answered without an entry-point scan (start-up stays fast); any other
    name is looked for once per process among the installed packages' entry points.
    :raises BadInput: no platform has that name (the message lists the known ones), or the
        entry point does not load or does not name a `PlatformPlugin` / `Adapter` subclass.
    """
    plugin = BUILTIN.get(name) if isinstance(name, str) else None
    if plugin is not None:
        return plugin
    with _lock:
        if name in _loaded:
            return _loaded[name]
        if name in _broken:
            raise _broken[name]
    found = _scan()
    entry_point = found.get(name) if isinstance(name, str) else None
    if entry_point is None:
        raise BadInput(f"unknown platform {name!r}; known platforms: {', '.join(plugin_names())}")
    try:
        plugin = _from_entry_point(entry_point)
    except BadInput as error:
        with _lock:
            _broken[name] = error
        raise
    with _lock:
        _loaded[name] = plugin
    return plugin


def loaded_plugin(name: str) -> PlatformPlugin | None:
    """The plug-in for `name` if it is built in or already loaded, else None: no entry-point
    scan, no import (for pure code such as the formatter)."""
    plugin = BUILTIN.get(name)
    if plugin is None:
        with _lock:
            plugin = _loaded.get(name)
    return plugin


def forget() -> None:
    """Scan again on the next lookup (after packages were installed, and between tests)."""
    global _entry_points
    with _lock:
        _entry_points = None
        _loaded.clear()
        _broken.clear()


def _scan() -> dict[str, EntryPoint]:
    global _entry_points
    with _lock:
        if _entry_points is not None:
            return _entry_points
    import importlib.metadata  # only for a name that is not built in: ~40 ms

    found: dict[str, EntryPoint] = {}
    try:
        # A `crieur.platforms` plug-in wins over an adapter of the same name in the older group.
        for group in (ADAPTER_GROUP, ENTRY_POINT_GROUP):
            for entry_point in importlib.metadata.entry_points(group=group):
                found[entry_point.name] = entry_point
    except Exception:  # a broken distribution's metadata must not stop Crieur
        log.warning("cannot read the installed packages' entry points", exc_info=True)
    with _lock:
        _entry_points = found
    return found


def _from_entry_point(entry_point: EntryPoint) -> PlatformPlugin:
    where = f"platform {entry_point.name!r} ({entry_point.value})"
    if entry_point.group == ADAPTER_GROUP:
        # Not imported here: validating a campaign must not load an SDK.
        return PlatformPlugin(name=entry_point.name, label=entry_point.name,
                              adapter=f"{entry_point.module}:{entry_point.attr}")
    try:
        plugin = entry_point.load()
        if _is_adapter_class(plugin):
            # An adapter registered where a plug-in was expected: the defaults, as the older group.
            return PlatformPlugin(name=entry_point.name, label=entry_point.name,
                                  adapter=f"{entry_point.module}:{entry_point.attr}")
        if callable(plugin) and not isinstance(plugin, PlatformPlugin):
            plugin = plugin()  # a factory is fine too
    except Exception as exc:  # whatever a third-party module does on import, one line for the user
        raise BadInput(f"{where} cannot be loaded: {type(exc).__name__}: {exc}") from exc
    if not isinstance(plugin, PlatformPlugin):
        raise BadInput(f"{where} is not a bot.platforms.PlatformPlugin")
    if plugin.name != entry_point.name:
        raise BadInput(f"{where} is registered as {entry_point.name!r} but calls itself {plugin.name!r}")
    return plugin


def _is_adapter_class(value: object) -> bool:
    from bot.adapters.base import Adapter

    return isinstance(value, type) and issubclass(value, Adapter)
