"""What a Mastodon-API server says about itself: its software and its limits, from its instance info."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, NamedTuple

from bot.live_limits import ServerLimits, ServerUnreachable
from bot.platforms.plugin import MediaLimits

# Mastodon's defaults (4.x), used where an instance does not publish a value.
DEFAULT_LIMIT = 500
DEFAULT_URL_LENGTH = 23
DEFAULT_MEDIA = MediaLimits(count=4, max_bytes=16 * 1024 * 1024, max_alt=1500)


class Server(NamedTuple):
    """What the instance says it runs, and whether it returns the first status for a repeated
    Idempotency-Key instead of creating another."""

    name: str
    honours_idempotency_key: bool
    markdown: bool = False  # renders post text as Markdown (Hollo)
    #: how it counts a status against its limit (bot.platforms.mastodon.Mastodon's `counting`):
    #: Mastodon's rule (a URL costs `characters_reserved_per_url`), or every character as written,
    #: URLs in full: GoToSocial counts code points (statuscreate.go, runes of status + CW),
    #: Akkoma and Pleroma grapheme clusters (String.length of status <> CW).
    counting: str = "mastodon"
    #: how long a repeated key gets the first status back (Mastodon and Hollo keep it an hour in
    #: Redis, Akkoma's IdempotencyPlug six hours); zero where it is not honoured
    key_lifetime: timedelta = timedelta(hours=1)
    #: the server takes `content_type` on a status and would otherwise use the account's own
    #: default format, which may be Markdown (GoToSocial, Akkoma, Pleroma)
    takes_content_type: bool = False


_COMPATIBLE = re.compile(r"\(compatible; ([^)]+)\)")
_SEMVER = re.compile(r"^(\d+)\.\d+\.\d+")


def identify(info: dict[str, Any]) -> Server:
    """Tell the software from the instance info, as each reports itself: Mastodon "4.3.0" with
    source_url github.com/mastodon/mastodon (forks: …/mastodon too); Hollo its own version with
    source_url …/hollo; GoToSocial "0.17.3" (or "3.5.3+0.17.3") with source_url …/gotosocial;
    Akkoma and Pleroma, v1 only, "2.7.2 (compatible; Akkoma 3.13.2)". Only servers known to
    honour Idempotency-Key are trusted with it."""
    version = str(info.get("version") or "")
    source = str(info.get("source_url") or "").lower()
    if "gotosocial" in source:
        return Server(f"GoToSocial {version}".strip(), False, counting="code_points", key_lifetime=timedelta(0),
                      takes_content_type=True)
    if "hollo" in source:
        return Server(f"Hollo {version}".strip(), True, markdown=True)
    compatible = _COMPATIBLE.search(version)
    if compatible:
        software = compatible.group(1)
        pleroma = software.split()[0].lower() in ("akkoma", "pleroma")
        return Server(software, pleroma, counting="graphemes" if pleroma else "mastodon",
                      key_lifetime=timedelta(hours=6) if pleroma else timedelta(0), takes_content_type=pleroma)
    semver = _SEMVER.match(version)
    if "mastodon" in source or (not source and info.get("_v1") and semver and int(semver.group(1)) >= 1):
        # A v1-only server with a bare version is a Mastodon older than 4.0 (keys since 2.x).
        return Server(f"Mastodon {version}".strip(), True)
    return Server(f"the server ({version or 'no version'}{', ' + source if source else ''})", False,
                  key_lifetime=timedelta(0))


def first_positive(*values: Any) -> int | None:
    """The first value that is a positive number (instances leave keys out, or send 0 for "unset")."""
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if number > 0:
            return number
    return None


def limits_from_instance(info: dict[str, Any], source: str) -> ServerLimits:
    """The limits in /api/v2/instance or /api/v1/instance: `configuration.statuses` and
    `configuration.media_attachments` (Mastodon, Hollo, GoToSocial), or Pleroma's and Akkoma's
    own v1 keys (`max_toot_chars`, `upload_limit`, `description_limit`)."""
    config = info.get("configuration") or {}
    statuses = config.get("statuses") or {}
    media = config.get("media_attachments") or {}
    server = identify(info)
    return ServerLimits(
        limit=first_positive(statuses.get("max_characters"), info.get("max_toot_chars")),
        url_length=first_positive(statuses.get("characters_reserved_per_url")),
        media=MediaLimits(
            count=first_positive(statuses.get("max_media_attachments"), info.get("max_media_attachments"))
            or DEFAULT_MEDIA.count,
            max_bytes=first_positive(media.get("image_size_limit"), info.get("upload_limit")) or DEFAULT_MEDIA.max_bytes,
            max_alt=first_positive(media.get("description_limit"), info.get("description_limit"))
            or DEFAULT_MEDIA.max_alt,
        ),
        source=source,
        software=server.name,
        markdown=server.markdown,
        counting=server.counting,
    )


def server_limits(settings: dict[str, Any], *, session: Any = None, timeout: float = 10.0) -> ServerLimits:
    """Read the account's instance info (public: no credentials are sent): /api/v2/instance,
    else /api/v1/instance where there is none (Akkoma, Pleroma, Mastodon before 4.0).

    :raises ServerUnreachable: a network failure, an HTTP error, or an answer that is not instance info
    """
    import requests

    base = str(settings.get("instance") or "").rstrip("/")
    if not base:
        raise ServerUnreachable("the account has no instance")
    http = session or requests.Session()
    try:
        for path, v1 in (("/api/v2/instance", False), ("/api/v1/instance", True)):
            url = base + path
            try:
                response = http.get(url, timeout=timeout, headers={"Accept": "application/json"})
            except requests.RequestException as exc:
                raise ServerUnreachable(f"cannot read {url}: {type(exc).__name__}") from None
            if response.status_code == 404 and not v1:
                continue
            if response.status_code != 200:
                raise ServerUnreachable(f"cannot read {url}: HTTP {response.status_code}")
            try:
                info = response.json()
            except ValueError:
                info = None
            if not isinstance(info, dict):
                raise ServerUnreachable(f"{url} did not answer with instance information")
            if v1:
                info["_v1"] = True
            return limits_from_instance(info, url)
    finally:
        if session is None:
            http.close()
    raise ServerUnreachable(f"{base} has no instance information")  # not reached: v1 ends the loop
