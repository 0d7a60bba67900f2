"""The settings a "Threads" account takes in a campaign file."""

from __future__ import annotations

from pydantic import HttpUrl

from bot.campaign import AccountSection, SecretRef


class ThreadsAccount(AccountSection):
    api_base: HttpUrl
    username: str | None = None
    api_token: SecretRef | None = None

    def _missing_credentials(self) -> str | None:
        return None if self.api_token else "no credentials: set api_token: ${VAR} or credentials: file"
