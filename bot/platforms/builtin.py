"""The built-in platform plug-ins: X, Mastodon, Bluesky and the dry run."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from bot.platforms.plugin import MediaLimits, PlatformPlugin

_MIB = 1024 * 1024


def _mastodon_handle(account_name: str, settings: Mapping[str, Any]) -> str:
    host = str(settings.get("instance") or "mastodon.social").split("://")[-1].split("/")[0]
    return f"@{account_name}@{host}"


def _bluesky_handle(account_name: str, settings: Mapping[str, Any]) -> str:
    return "@" + str(settings.get("handle") or f"{account_name}.bsky.social")


_BSKY_URL = re.compile(r"/profile/(?P<actor>[^/]+)/post/(?P<rkey>[A-Za-z0-9._~:-]+)/?(?:[?#]|$)")


def _bluesky_post_uri(url: str, thread_ids: Sequence[str], idempotency_key: str) -> str | None:
    """A Bluesky post id is its at:// URI: given as such, or rebuilt from a bsky.app URL with the
    account's DID (from the URL, or from a post of the same thread)."""
    if url.startswith("at://"):
        return url
    match = _BSKY_URL.search(url)
    if match is None:
        return None
    actor, rkey = match["actor"], match["rkey"]
    if actor.startswith("did:"):
        return f"at://{actor}/app.bsky.feed.post/{rkey}"
    repo = next((uri.split("/")[2] for uri in thread_ids if uri.startswith("at://did:")), None)
    return f"at://{repo}/app.bsky.feed.post/{rkey}" if repo else None


def _dryrun_id(url: str, thread_ids: Sequence[str], idempotency_key: str) -> str:
    """The dry-run adapter's id for the post, whatever the URL: it is derived from the key."""
    from bot.adapters.dryrun import fake_id

    return fake_id(idempotency_key)


X = PlatformPlugin(
    name="x",
    label="X",
    profile="bot.platforms.x:X",
    adapter="bot.adapters.x:XAdapter",
    account="bot.campaign:XAccount",
    media=MediaLimits(count=4, max_bytes=5 * _MIB, max_alt=1000),
    # POST /2/tweets: 100 per 24 h per user (Basic tier).
    caps=((timedelta(hours=24), 100),),
    # The per-endpoint window and the per-user 24-hour cap.
    rate_limit_headers=(("x-rate-limit-remaining", "x-rate-limit-reset"),
                        ("x-user-limit-24hour-remaining", "x-user-limit-24hour-reset")),
    default_format={"hashtags": {"max_tags": 2, "placement": "inline+end"}},
    status_url=re.compile(r"/status(?:es)?/(\d+)(?:[/?#]|$)"),
    imitable=True,
    in_default_preview=True,
)

MASTODON = PlatformPlugin(
    name="mastodon",
    label="Mastodon",
    profile="bot.platforms.mastodon:Mastodon",
    adapter="bot.adapters.mastodon:MastodonAdapter",
    account="bot.campaign:MastodonAccount",
    # Mastodon's defaults; an instance says its own in /api/v2/instance.
    media=MediaLimits(count=4, max_bytes=16 * _MIB, max_alt=1500),
    caps=((timedelta(hours=3), 300),),  # Mastodon's RateLimiter: 300 statuses per 3 h
    rate_limit_headers=(("x-ratelimit-remaining", "x-ratelimit-reset"),),
    default_format={"hashtags": {"max_tags": 5, "placement": "end"}},
    # A status id is the URL's last segment: numeric on Mastodon (/@user/113…), a UUID on Hollo,
    # a ULID on GoToSocial (/@user/statuses/01J…), a base62 flake id on Pleroma/Akkoma (/notice/AoX…).
    status_url=re.compile(
        r"/(\d+|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|(?=[0-9A-Za-z]*\d)[0-9A-Za-z]{10,32})"
        r"/?(?:[?#]|$)"),
    handle=_mastodon_handle,
    server_limits="bot.platforms.mastodon_server:server_limits",
    imitable=True,
    in_default_preview=True,
)

BLUESKY = PlatformPlugin(
    name="bluesky",
    label="Bluesky",
    profile="bot.platforms.bluesky:Bluesky",
    adapter="bot.adapters.bluesky:BlueskyAdapter",
    account="bot.campaign:BlueskyAccount",
    media=MediaLimits(count=4, max_bytes=1_000_000, max_alt=2000),
    # 5,000 points an hour and 35,000 a day at 3 points per record created.
    caps=((timedelta(hours=1), 1666), (timedelta(days=1), 11666)),
    rate_limit_headers=(("ratelimit-remaining", "ratelimit-reset"),),
    default_format={"hashtags": {"max_tags": 2, "placement": "inline+end"}},
    parse_status_url=_bluesky_post_uri,
    remote_id_hint="at://did:…/app.bsky.feed.post/RKEY",
    handle=_bluesky_handle,
    imitable=True,
    in_default_preview=True,
)

DRYRUN = PlatformPlugin(
    name="dryrun",
    label="Dry run",
    profile="bot.platforms.dryrun:DryRun",
    adapter="bot.adapters.dryrun:DryRunAdapter",
    account="bot.campaign:DryrunAccount",
    media=MediaLimits(count=4, max_bytes=16 * _MIB, max_alt=1500),
    # The IETF draft's pair, which a rehearsal stands for (no dry run sends it by itself).
    rate_limit_headers=(("ratelimit-remaining", "ratelimit-reset"),),
    parse_status_url=_dryrun_id,
    simulated=True,
)

BUILTIN: dict[str, PlatformPlugin] = {p.name: p for p in (X, MASTODON, BLUESKY, DRYRUN)}
