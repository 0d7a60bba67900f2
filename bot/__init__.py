"""Crieur: turn articles into social-media threads and publish them on schedule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    __version__: str

    from bot.formatter import format_thread
    from bot.platforms import get_platform

__all__ = ["__version__", "format_thread", "get_platform"]


def __getattr__(name: str) -> Any:
    # Lazy re-exports keep `import bot` (and so `crieur --help`) cheap; so does the version,
    # whose lookup in the installed metadata costs ~30 ms.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("crieur")
        except PackageNotFoundError:  # running from a source tree that was never installed
            value = "0.0.0"
        globals()["__version__"] = value
        return value
    if name == "get_platform":
        from bot.platforms import get_platform

        return get_platform
    if name == "format_thread":
        from bot.formatter import format_thread

        return format_thread
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
