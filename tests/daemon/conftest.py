"""Fixtures of the daemon tests (defined in daemon_helpers, next to the helpers they use)."""

from daemon_helpers import daemons, pg_url, platforms  # noqa: F401  (pytest fixtures)
