"""The platform plug-in: every fact Crieur knows about one platform, in one object."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any

from bot.errors import BadInput

if TYPE_CHECKING:
    from bot.adapters.base import Adapter
    from bot.platforms.base import Platform

#: A remote id from a post's web URL: (url, remote ids of the thread's other posts, the post's
#: idempotency key) → the id, or None when the URL does not show one.
StatusUrlParser = Callable[[str, Sequence[str], str], "str | None"]


@dataclass(frozen=True)
class MediaLimits:
    """What one post may carry: images, bytes per image, alt-text characters (checked at enqueue)."""

    count: int = 4
    max_bytes: int = 16 * 1024 * 1024
    max_alt: int = 1500


def _handle_at_name(account_name: str, settings: Mapping[str, Any]) -> str:
    return "@" + account_name


@dataclass(frozen=True)
class PlatformPlugin:
    """One platform: how it counts, what an account says, what it allows, and its adapter.

    Built-in platforms (x, mastodon, bluesky, dryrun) are instances of this class, and so is a
    third-party platform, registered under its name in the `crieur.platforms` entry-point group
    (the entry point names the instance). Nothing outside a plug-in asks which platform it is.

    `profile`, `adapter` and `account` are `"module:attribute"` references, imported only when
    used: validating a campaign loads no SDK, and formatting for X loads no Mastodon code.

    - `profile`: a `bot.platforms.base.Platform` subclass (its counting); None counts grapheme
      clusters against `limit` (default 500), like the dry run.
    - `adapter`: a `bot.adapters.base.Adapter` subclass.
    - `account`: a `bot.campaign.AccountSection` subclass checking the account's settings; None
      accepts any keys (credential-like keys must still be `${VAR}` references).
    - `media`, `caps` (what one account may post: (window, posts) pairs, whatever the headers
      say), `rate_limit_headers` ((remaining, reset) header-name pairs, lower-case).
    - `default_format`: `bot.formatter.FormatOptions` keywords, `hashtags` as a mapping of
      `HashtagBudget` keywords.
    - `status_url`: a regular expression whose first group is the post id in its web URL, or
      `parse_status_url` (a `StatusUrlParser`) when the URL alone does not say it;
      `remote_id_hint` shows what an id looks like when a URL cannot be read.
    - `handle`: (account name, settings) → the handle as the platform shows it (`@name`).
    - `server_limits`: a `"module:function"` reference to `(settings, *, session, timeout) →
      bot.live_limits.ServerLimits` for a platform whose servers state their own limits (a
      Mastodon instance); None: the profile's and `media` hold.
    - `imitable`: a dryrun account may format as this platform (`as:`); `simulated`: posts go
      nowhere (the dryrun platform); `in_default_preview`: `crieur preview` shows it by default.
    """

    name: str
    label: str
    adapter: str
    profile: str | None = None
    account: str | None = None
    media: MediaLimits = MediaLimits()
    caps: tuple[tuple[timedelta, int], ...] = ()
    rate_limit_headers: tuple[tuple[str, str], ...] = ()
    default_format: Mapping[str, Any] = field(default_factory=dict)
    status_url: re.Pattern[str] | None = None
    parse_status_url: StatusUrlParser | None = None
    remote_id_hint: str = "ID"
    server_limits: str | None = None
    handle: Callable[[str, Mapping[str, Any]], str] = _handle_at_name
    imitable: bool = False
    simulated: bool = False
    in_default_preview: bool = False

    def profile_class(self) -> type[Platform]:
        """The counting profile class (imported now)."""
        if self.profile is None:
            from bot.platforms.generic import generic_profile

            return generic_profile(self.name)
        cls = load_reference(self.profile, f"platform {self.name!r}: profile")
        from bot.platforms.base import Platform

        if not (isinstance(cls, type) and issubclass(cls, Platform)):
            raise BadInput(f"platform {self.name!r}: profile {self.profile} is not a bot.platforms.Platform subclass")
        return cls

    def adapter_class(self) -> type[Adapter]:
        """The adapter class (imported now); BadInput with an install hint when its SDK is missing."""
        cls = load_reference(self.adapter, f"platform {self.name!r}: adapter", install_hint=self.name)
        from bot.adapters.base import Adapter

        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise BadInput(f"platform {self.name!r}: adapter {self.adapter} is not a bot.adapters.Adapter subclass")
        return cls

    def account_model(self) -> type[Any] | None:
        """The campaign's settings model for this platform's accounts, or None (any keys)."""
        return None if self.account is None else load_reference(self.account, f"platform {self.name!r}: account")

    def remote_id_from_url(self, url: str, thread_ids: Sequence[str], idempotency_key: str) -> str | None:
        """The remote id that a post's web URL stands for, or None when the URL does not say."""
        if self.parse_status_url is not None:
            return self.parse_status_url(url, thread_ids, idempotency_key)
        if self.status_url is not None:
            match = self.status_url.search(url)
            return match.group(1) if match else None
        return None


def load_reference(reference: str, what: str, *, install_hint: str | None = None) -> Any:
    """The object a `"module:attribute"` reference names, imported now.

    :raises BadInput: the reference is malformed, the module or attribute is missing; an
        ImportError reads as an install hint for `install_hint`'s extra when given.
    """
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise BadInput(f"{what}: {reference!r} is not a 'module:attribute' reference")
    try:
        target: Any = import_module(module_name)
    except ImportError as exc:
        hint = f"; try: pip install 'crieur[{install_hint}]'" if install_hint else ""
        raise BadInput(f"{what} cannot be loaded: {exc}{hint}") from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise BadInput(f"{what}: {module_name} has no {attribute}") from None
    return target
