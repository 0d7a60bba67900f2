"""Fixtures of the desk tests (defined in desk_helpers, next to the helpers they use)."""

from desk_helpers import chromium, desk_files, processes  # noqa: F401  (pytest fixtures)
