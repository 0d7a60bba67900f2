"""How each Mastodon-API server FakeMastodon can play differs from Mastodon, as their sources show.

One `Flavour` per server: what /api/v1/instance and /api/v2/instance report, its ids, how it
counts a status's length, how it reads booleans, what it answers to errors, how it returns the
source text and whether it honours `Idempotency-Key`. The sources read are named beside each rule
(paths in the servers' repositories: mastodon/mastodon, dahlia/hollo,
superseriousbusiness/gotosocial, AkkomaGang/akkoma).
"""

from __future__ import annotations

import html
import itertools
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any, Callable

_URL = re.compile(r"https?://[^\s<]+")
_MARKDOWN_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")


# -- ids ----------------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _encode(number: int, alphabet: str, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, len(alphabet))
        digits.append(alphabet[rest])
    return "".join(reversed(digits))


def snowflake_ids() -> Callable[[], str]:
    """Mastodon's ids: decimal snowflakes (lib/mastodon/snowflake.rb), as strings."""
    counter = itertools.count(113000000000000001)
    return lambda: str(next(counter))


def uuid_ids() -> Callable[[], str]:
    """Hollo's ids: UUIDs (src/api/v1/statuses.ts, `uuidv7()`)."""
    return lambda: str(uuid.uuid4())


def ulid_ids() -> Callable[[], str]:
    """GoToSocial's ids: ULIDs, 26 characters of Crockford base32, 48-bit milliseconds then 80
    random bits (internal/processing/status/create.go, `id.NewULID()`). Made monotonic here."""
    counter = itertools.count(1)

    def new() -> str:
        return _encode(int(time.time() * 1000), _CROCKFORD, 10) + _encode(next(counter), _CROCKFORD, 16)
    return new


def flake_ids() -> Callable[[], str]:
    """Akkoma's (Pleroma's) FlakeIds: 64-bit milliseconds, 48-bit worker, 16-bit sequence, written
    in base62 (18 characters today, "9umDrYheeY451cQnEe" in status_operation.ex's example)."""
    counter = itertools.count(1)
    worker = 0x2F3A9C11D4E5

    def new() -> str:
        value = (int(time.time() * 1000) << 64) | (worker << 16) | (next(counter) & 0xFFFF)
        return _encode(value, _BASE62, 18)
    return new


# -- rendering ----------------------------------------------------------------------------------


def _linkify_mastodon(url: str) -> str:
    # Mastodon's link HTML: scheme hidden, the first 30 characters shown, the rest hidden.
    scheme, rest = url.split("://", 1)
    shown, hidden = rest[:30], rest[30:]
    ellipsis = ' class="ellipsis"' if hidden else ' class=""'
    return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{scheme}://</span><span{ellipsis}>{html.escape(shown)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>')


def _linkified(block: str, link: Callable[[str], str]) -> str:
    pieces, last = [], 0
    for match in _URL.finditer(block):
        pieces.append(html.escape(block[last:match.start()], quote=False))
        pieces.append(link(match.group(0)))
        last = match.end()
    pieces.append(html.escape(block[last:], quote=False))
    return "".join(pieces)


def render(text: str) -> str:
    """Plain text as Mastodon renders `content`: paragraphs, <br />, linkified URLs."""
    return "".join("<p>" + _linkified(block, _linkify_mastodon).replace("\n", "<br />") + "</p>"
                   for block in text.split("\n\n"))


def render_markdown(text: str) -> str:
    """Hollo's rendering, as far as these tests need it: `*x*` becomes emphasis."""
    return _MARKDOWN_EMPHASIS.sub(r"<em>\1</em>", render(text))


#: The post formats a status may ask for (`content_type`), where the server has a choice: GoToSocial
#: text/plain or text/markdown (apimodel.StatusContentType, validate.StatusContentType); Akkoma
#: also text/html and text/bbcode (Pleroma's allowed_post_formats). Without one, the account's
#: own default applies (GoToSocial's status_content_type setting, Akkoma's default format).
POST_FORMATS: dict[str, tuple[str, ...]] = {
    "gotosocial": ("text/plain", "text/markdown"),
    "akkoma": ("text/plain", "text/markdown", "text/html", "text/bbcode"),
}


def with_markdown(rendered: str) -> str:
    """A text/markdown post, as far as these tests need it: `*x*` becomes emphasis."""
    return _MARKDOWN_EMPHASIS.sub(r"<em>\1</em>", rendered)


def render_gotosocial(text: str) -> str:
    """GoToSocial's text/plain (internal/text/plain.go): one paragraph, <br /> for newlines, links
    shown in full with rel="nofollow noreferrer noopener"."""
    def link(url: str) -> str:
        return f'<a href="{html.escape(url)}" rel="nofollow noreferrer noopener" target="_blank">{html.escape(url)}</a>'
    return "<p>" + _linkified(text, link).replace("\n", "<br />") + "</p>"


def render_akkoma(text: str) -> str:
    """Akkoma's text/plain (CommonAPI.Utils.format_input): escaped, linkified with the formatter's
    `rel: "ugc"` (config/config.exs, Pleroma.Formatter), newlines to <br>, no paragraphs."""
    def link(url: str) -> str:
        return f'<a href="{html.escape(url)}" rel="ugc">{html.escape(url)}</a>'
    return _linkified(text, link).replace("\n", "<br>")


# -- booleans -----------------------------------------------------------------------------------

# Akkoma's BooleanLike (lib/pleroma/web/api_spec/schemas/boolean_like.ex): these are false,
# every other non-null value is true ("no" included).
_AKKOMA_FALSE = (False, 0, "0", "f", "F", "false", "FALSE", "off", "OFF")
# Go's strconv.ParseBool, which GoToSocial's form binding and query parsing use.
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


@dataclass(frozen=True)
class Flavour:
    """One Mastodon-API server's rules, as FakeMastodon applies them."""

    name: str
    #: what /api/v1/instance and /api/v2/instance say in `version` (v2 None: no such endpoint)
    version_v1: str
    version_v2: str | None
    source_url: str
    max_characters: int
    characters_reserved_per_url: int
    max_media_attachments: int
    #: a repeated Idempotency-Key returns the first answer instead of creating a second status
    honours_idempotency_key: bool
    #: the first answer under a key is replayed whatever it was, an error included (Akkoma)
    replays_errors: bool
    new_ids: Callable[[], Callable[[], str]]
    render: Callable[[str], str]
    #: the status URL below the instance, from the id
    status_path: str
    #: the HTTP status of a refused status (too long, unknown parent): Mastodon 422, GoToSocial 400
    refusal_status: int

    def refusal(self, message: str) -> tuple[int, dict[str, Any]]:
        if self.name == "gotosocial":
            # gtserror.NewErrorBadRequest: "Bad Request: " and the help text, under "error".
            return 400, {"error": f"Bad Request: {message}"}
        return self.refusal_status, {"error": message}

    # -- what counts against the limit ----------------------------------------------------------

    def length(self, text: str, spoiler: str) -> int:
        if self.name == "gotosocial":
            # statuscreate.go validateNormalizeCreateStatus: runes of status + spoiler_text, every
            # URL in full (characters_reserved_per_url = 25 is only a hint to clients).
            return len(text) + len(spoiler)
        if self.name == "akkoma":
            # ActivityDraft.full_payload + Utils.validate_character_limit: String.length (graphemes)
            # of trim(status <> spoiler_text), URLs in full.
            return _graphemes((text + spoiler).strip())
        return len(text)

    def too_long(self, limit: int, length: int) -> str:
        if self.name == "gotosocial":
            return (f"status too long, {length} characters provided (including spoiler/content warning) "
                    f"but limit is {limit}")
        if self.name == "akkoma":
            return "The status is over the character limit"
        return f"Validation failed: Text character limit of {limit} exceeded"

    # -- booleans -------------------------------------------------------------------------------

    def body_boolean(self, name: str, value: Any, json_body: bool) -> tuple[int, dict[str, Any]] | None:
        """None if the server takes `value` for the boolean field `name`, else its refusal."""
        if self.name == "hollo" and not isinstance(value, bool):
            received = type(value).__name__.replace("str", "string")
            # Hono's zod validator, as Hollo answers: the explanation sits under "error".
            return 422, {"success": False, "error": {"name": "ZodError", "issues": [
                {"code": "invalid_type", "expected": "boolean", "received": received,
                 "path": [name], "message": f"Expected boolean, received {received}"}]}}
        if self.name == "gotosocial":
            if json_body and not isinstance(value, bool):
                # gin's JSON binding (encoding/json) into a Go bool field: 400 with Go's words.
                kind = "string" if isinstance(value, str) else "number"
                return self.refusal(f"json: cannot unmarshal {kind} into Go struct field "
                                    f"StatusCreateRequest.{name} of type bool")
            if not json_body and value not in _GO_BOOLS:
                return self.refusal(f'strconv.ParseBool: parsing "{value}": invalid syntax')
        return None

    def query_boolean(self, name: str, value: str) -> tuple[int, dict[str, Any]] | None:
        """None if the account-statuses query takes `value` for `name`, else the server's refusal."""
        if self.name == "hollo" and value not in ("true", "false"):
            return 400, {"error": f"Invalid query: {name}: expected 'true' or 'false', received {value!r}"}
        if self.name == "gotosocial" and value not in _GO_BOOLS:
            # internal/api/client/accounts/statuses.go: strconv.ParseBool, else 400.
            return self.refusal(f'error parsing {name}: strconv.ParseBool: parsing "{value}": invalid syntax')
        return None

    # -- the status as returned -----------------------------------------------------------------

    def source_fields(self, text: str) -> dict[str, Any]:
        if self.name in ("hollo", "gotosocial"):
            # Hollo: the Markdown source; GoToSocial: `Text: s.Text` (typeutils/internaltofrontend.go).
            return {"text": text}
        if self.name == "akkoma":
            # StatusView: `text` only with_source (false otherwise); the source under
            # akkoma.source (ActivityDraft.object puts the trimmed status there), the stripped
            # HTML under pleroma.content["text/plain"].
            return {"text": False, "akkoma": {"source": {"content": text.strip(), "mediaType": "text/plain"}},
                    "pleroma": {"content": {"text/plain": text.strip()}, "local": True}}
        return {}

    def stored_text(self, text: str) -> str:
        # Akkoma keeps String.trim(status) (ActivityDraft.status).
        return text.strip() if self.name == "akkoma" else text


def _graphemes(text: str) -> int:
    # Elixir's String.length counts grapheme clusters: enough here to fold combining marks.
    return sum(1 for ch in text if not unicodedata.combining(ch))


FLAVOURS: dict[str, Flavour] = {
    # Mastodon 4.3: /api/v2/instance with configuration; Idempotency-Key kept for an hour
    # (app/controllers/api/v1/statuses_controller.rb, docs: "stored for up to 1 hour").
    "mastodon": Flavour(
        name="mastodon", version_v1="4.3.0", version_v2="4.3.0",
        source_url="https://github.com/mastodon/mastodon", max_characters=500,
        characters_reserved_per_url=23, max_media_attachments=4, honours_idempotency_key=True,
        replays_errors=False, new_ids=snowflake_ids, render=render, status_path="@crieur/{id}",
        refusal_status=422),
    # Hollo: `version: metadata.version` (package.json) and source_url github.com/dahlia/hollo
    # (src/api/v2/instance.ts); the key kept in Redis for an hour (src/api/v1/statuses.ts).
    # Its instance info states 10,000 characters and 256 per URL (4096 in older releases), and
    # 0 — "TODO", meaning unset — for media attachments and image sizes.
    "hollo": Flavour(
        name="hollo", version_v1="0.6.0", version_v2="0.6.0", source_url="https://github.com/dahlia/hollo",
        max_characters=10_000, characters_reserved_per_url=256, max_media_attachments=0,
        honours_idempotency_key=True, replays_errors=False, new_ids=uuid_ids, render=render_markdown,
        status_path="@crieur/{id}", refusal_status=422),
    # GoToSocial: `Version: config.GetSoftwareVersion()` ("0.17.3", maybe a git id after a space;
    # "3.5.3+0.17.3" only with instance-inject-mastodon-version), source_url its repository,
    # statuses-max-chars 5000, statuses-media-max-files 6, characters_reserved_per_url 25
    # (typeutils/internaltofrontend.go, docs/configuration/statuses.md). The status handler and
    # processor never read Idempotency-Key (api/client/statuses/statuscreate.go,
    # processing/status/create.go; feature request superseriousbusiness/gotosocial#2723).
    "gotosocial": Flavour(
        name="gotosocial", version_v1="0.17.3", version_v2="0.17.3",
        source_url="https://github.com/superseriousbusiness/gotosocial", max_characters=5000,
        characters_reserved_per_url=25, max_media_attachments=6, honours_idempotency_key=False,
        replays_errors=False, new_ids=ulid_ids, render=render_gotosocial,
        status_path="@crieur/statuses/{id}", refusal_status=400),
    # Akkoma: only /api/v1/instance (no /api/v2/instance route in lib/pleroma/web/router.ex),
    # version "2.7.2 (compatible; Akkoma x.y.z)", no `configuration`: max_toot_chars (limit 5000),
    # upload_limit 16 MB, description_limit 5000 (mastodon_api/views/instance_view.ex,
    # config/config.exs). Pleroma.Web.Plugs.IdempotencyPlug (in every API pipeline) caches the
    # first response for a key, whatever its status, for 6 hours (application.ex,
    # idempotency_expiration) and replays it with `idempotent-replayed: true`.
    "akkoma": Flavour(
        name="akkoma", version_v1="2.7.2 (compatible; Akkoma 3.13.2)", version_v2=None,
        source_url="https://akkoma.dev/AkkomaGang/akkoma", max_characters=5000,
        characters_reserved_per_url=23, max_media_attachments=1000, honours_idempotency_key=True,
        replays_errors=True, new_ids=flake_ids, render=render_akkoma, status_path="notice/{id}",
        refusal_status=422),
}
