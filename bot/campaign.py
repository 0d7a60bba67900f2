"""Campaign files: YAML → validated, typed `Campaign` objects, with every problem's file and line."""

from __future__ import annotations

import difflib
import os
import re
import stat
import sys
import tomllib
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from bot.errors import BadInput
from bot.schedule import CronSlot, NoSlotError, QuietHours, Schedule, parse_duration
from bot.yamlpos import Located, YamlSyntaxError, load_located


# Keys that hold secrets. Any key ending like these is treated as one too, so a plug-in's
# `api_token` cannot slip a literal secret into git either.
CREDENTIAL_FIELDS = frozenset({
    "access_token", "access_token_secret", "consumer_key", "consumer_secret", "app_password",
    "password", "client_secret", "bearer_token", "api_key", "api_secret", "refresh_token", "token",
})
_SECRETISH = re.compile(r"(?:^|_)(?:token|secret|password|passwd|key)$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")
_LANG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
_OAUTH1 = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a campaign file; `str()` gives `file:line: field: message`."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CampaignError(BadInput):
    """A campaign file (or a set of them) is invalid; the message lists every problem, one a line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


# --- field types ----------------------------------------------------------------------------


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone "{value}" (use an IANA name such as Europe/Paris)') from None
    return value


def _cron(value: str) -> str:
    CronSlot.parse(value)  # raises CronError, a ValueError quoting the expression
    return value


def _quiet(value: str) -> str:
    QuietHours.parse(value)
    return value


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _feed_short_form(value: object) -> object:
    return {"url": value} if isinstance(value, str) else value


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f'invalid name "{value}": use letters, digits, "-", "_", "." or "@"')
    return value


def _lang(value: str) -> str:
    if not _LANG.fullmatch(value):
        raise ValueError(f'invalid language tag "{value}" (e.g. fr, en, pt-BR)')
    return value


def _http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(?:/\S*)?", value):
        raise ValueError(f'invalid URL "{value}": expected http:// or https://')
    # "https://host/" and "https://host" name the same instance; a longer path keeps its slash.
    return value.rstrip("/") if value.count("/") == 3 else value


def _secret_ref(value: object) -> str:
    # Never echo the value: it may be the very secret we are refusing.
    if not isinstance(value, str) or not _ENV_REF.fullmatch(value.strip()):
        raise ValueError("literal secret; use ${VAR}")
    return value.strip()


Duration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_non_negative)]
ZoneName = Annotated[str, AfterValidator(_zone)]
CronExpr = Annotated[str, AfterValidator(_cron)]
QuietWindow = Annotated[str, AfterValidator(_quiet)]
Name = Annotated[str, AfterValidator(_name)]
LangTag = Annotated[str, AfterValidator(_lang)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
SecretRef = Annotated[str, BeforeValidator(_secret_ref)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class _Section(BaseModel):
    # strict: YAML already gives typed scalars; `max_posts: yes` must not become 1.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- the file's shape -----------------------------------------------------------------------


class HashtagsSection(_Section):
    """`format.<platform>.hashtags`: overrides of `bot.formatter.HashtagBudget`."""

    max_tags: NonNegativeInt = 2
    max_per_post: PositiveInt | None = None
    max_chars: PositiveInt | None = None
    placement: Literal["inline", "end", "start", "spread", "inline+end"] = "inline+end"


class FormatSection(_Section):
    """`format.<platform>`: overrides of `bot.formatter.FormatOptions` (only keys written apply)."""

    numbering: Literal["suffix", "prefix", "thread", "none"] = "suffix"
    link: Literal["first", "last", "none"] = "last"
    max_posts: PositiveInt | None = None
    hashtags: HashtagsSection | None = None
    cut: Literal["readable", "compact"] = "readable"


class FeedSection(_Section):
    """`sources.feed` in its long form: `{url, backfill, timeout}`."""

    url: HttpUrl
    backfill: NonNegativeInt = 0
    timeout: Annotated[float, Field(gt=0)] = 10.0


class SourcesSection(_Section):
    """`sources`: where articles come from. Paths are relative to the campaign file."""

    files: Annotated[list[str], BeforeValidator(_one_or_many)] = []
    folder: str | None = None
    feed: Annotated[FeedSection | None, BeforeValidator(_feed_short_form)] = None
    backfill: NonNegativeInt = 0
    settle: Duration = timedelta(seconds=2)
    interval: Duration = timedelta(minutes=1)


class ScheduleSection(_Section):
    """`schedule`: cron slots in the campaign zone, spacing inside a thread, quiet hours."""

    slots: Annotated[list[CronExpr], BeforeValidator(_one_or_many), Field(min_length=1)]
    spacing: Duration = timedelta(seconds=20)
    quiet_hours: Annotated[list[QuietWindow], BeforeValidator(_one_or_many)] = []


class RetryPolicy(_Section):
    """`retry`: exponential backoff for transient failures, then `failed` after `max_attempts`."""

    max_attempts: PositiveInt = 10
    initial: Duration = timedelta(seconds=30)
    maximum: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _ordered(self) -> RetryPolicy:
        if self.initial <= timedelta(0):
            raise ValueError("initial must be more than 0s")
        if self.maximum < self.initial:
            raise ValueError("maximum must not be shorter than initial")
        return self

    def delay(self, attempt: int) -> timedelta:
        """The wait before retry number `attempt` (1-based): initial × 2^(attempt-1), capped.

        Jitter is the publisher's business; this is the deterministic base.
        """
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        return min(self.maximum, self.initial * (2 ** min(attempt - 1, 40)))


# --- notifications and together (issue 11) ---------------------------------------------------

NOTIFY_EVENTS = ("failed", "needs_review", "account_paused", "published", "daemon_stopped", "awaiting_review")
DEFAULT_NOTIFY_EVENTS = ("failed", "needs_review", "account_paused", "daemon_stopped")
# Query parameters of an Apprise URL that carry secrets; their value must be a ${VAR}.
_SECRET_PARAM = re.compile(r"(?:^|[?&])(?:token|key|apikey|api_key|secret|password|pass|pwd|auth)=([^&]*)", re.I)
# A path part that looks like a token (long, mixing letters and digits): Slack, Discord, ntfy…
_TOKENISH = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-]{20,}")


def _notify_url(value: str) -> str:
    """An Apprise URL whose secret parts are ${VAR}s (never echoed: it may hold the secret)."""
    url = value.strip()
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://\S+", url) and not _ENV_REF.fullmatch(url):
        raise ValueError("expected an Apprise URL such as json://host/path, mailto://…, ntfy://…")
    if _ENV_REF.fullmatch(url):
        return url
    rest = url.split("://", 1)[1]
    userinfo = rest.split("/", 1)[0].rpartition("@")[0]
    password = userinfo.partition(":")[2]
    if password and not _ENV_REF.fullmatch(password):
        raise ValueError("literal secret (password) in the URL; use ${VAR}")
    for match in _SECRET_PARAM.finditer(rest):
        if match.group(1) and not _ENV_REF.fullmatch(match.group(1)):
            raise ValueError("literal secret (query parameter) in the URL; use ${VAR}")
    for part in _ENV_REF.sub("", rest).split("/"):
        if _TOKENISH.fullmatch(part.split("?", 1)[0]):
            raise ValueError("part of the URL looks like a literal token; use ${VAR}")
    return url


NotifyUrl = Annotated[str, AfterValidator(_notify_url)]


class NotifySection(_Section):
    """`notify`: Apprise URLs, the events wanted, and the window in which a burst makes one message."""

    urls: Annotated[list[NotifyUrl], BeforeValidator(_one_or_many), Field(min_length=1)]
    events: Annotated[list[Literal[NOTIFY_EVENTS]], BeforeValidator(_one_or_many)] = list(DEFAULT_NOTIFY_EVENTS)  # type: ignore[valid-type]
    group: Duration = timedelta(seconds=30)


def _together(value: object) -> object:
    """`together: true` (same time exactly), `false`, or a tolerance such as `15m`."""
    if value is True:
        return timedelta(0)
    if value is False or value is None:
        return None
    return _duration(value)


class CampaignSection(_Section):
    """The top level of a campaign file. Accounts are checked per platform (by its plug-in's
    account model)."""

    name: Name
    timezone: ZoneName
    lang: LangTag | None = None
    accounts: Annotated[dict[Name, dict[str, Any]], Field(min_length=1)]
    sources: SourcesSection = SourcesSection()
    schedule: ScheduleSection
    format: dict[str, FormatSection] = {}
    grace: Duration = timedelta(hours=1)
    retry: RetryPolicy = RetryPolicy()
    notify: NotifySection | None = None
    together: Annotated[timedelta | None, BeforeValidator(_together)] = None
    # `required`: every thread waits for a person's approval (crieur serve / queue approve).
    review: Literal["required", "none"] = "none"


class AccountSection(_Section):
    """Settings common to every platform; credential fields must be `${VAR}` references."""

    platform: str
    offset: Duration = timedelta(0)
    limit: PositiveInt | None = None
    url_length: NonNegativeInt | None = None
    credentials: str | None = None
    review: Literal["required", "none"] | None = None  # None: the campaign's `review`

    def _missing_credentials(self) -> str | None:
        return None

    @model_validator(mode="after")
    def _has_credentials(self) -> AccountSection:
        # Without a credentials file, the references must cover what the platform needs.
        if self.credentials is None:
            problem = self._missing_credentials()
            if problem:
                raise ValueError(problem)
        return self


class MastodonAccount(AccountSection):
    instance: HttpUrl
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    access_token: SecretRef | None = None

    def _missing_credentials(self) -> str | None:
        if self.access_token is None:
            return "no credentials: set access_token: ${VAR} or credentials: file"
        return None


class XAccount(AccountSection):
    # Another base for X's API host (an X-compatible gateway, or a fake server in tests).
    api_base: HttpUrl | None = None
    consumer_key: SecretRef | None = None
    consumer_secret: SecretRef | None = None
    access_token: SecretRef | None = None
    access_token_secret: SecretRef | None = None

    def _missing_credentials(self) -> str | None:
        present = [f for f in _OAUTH1 if getattr(self, f) is not None]
        if present == ["access_token"]:
            return None  # an OAuth 2.0 user-context token alone
        missing = [f for f in _OAUTH1 if getattr(self, f) is None]
        if not present:
            return f"no credentials: set {', '.join(_OAUTH1)} (as ${{VAR}}) or credentials: file"
        if missing:
            return f"incomplete OAuth 1.0a credentials: missing {', '.join(missing)}"
        return None


class BlueskyAccount(AccountSection):
    handle: str
    service: HttpUrl | None = None
    app_password: SecretRef | None = None

    def _missing_credentials(self) -> str | None:
        if self.app_password is None:
            return "no credentials: set app_password: ${VAR} or credentials: file"
        return None


def _imitable(name: str) -> str:
    """A platform a dry run may format as (`as:`): one whose plug-in says it can be imitated."""
    from bot.platforms.registry import BUILTIN, plugin_names

    if name in BUILTIN and BUILTIN[name].imitable:
        return name  # no entry-point scan for a built-in platform
    choices = [p for p in plugin_names() if getattr(_plugin_or_none(p), "imitable", False)]
    if name not in choices:
        quoted = [f"'{c}'" for c in choices]
        listed = ", ".join(quoted[:-1]) + f" or {quoted[-1]}"
        got = f" (got '{name}')" if len(name) <= 40 else ""
        raise ValueError(f"must be one of {listed}{got}")
    return name


def _plugin_or_none(name: str) -> Any:
    from bot.platforms.registry import get_plugin

    try:
        return get_plugin(name)
    except BadInput:  # a broken plug-in is reported where an account uses it, not here
        return None


class DryrunAccount(AccountSection):
    as_: Annotated[str, AfterValidator(_imitable)] | None = Field(None, alias="as")
    output: str | None = None
    # How long each simulated platform call takes (rehearsals, benchmarks): real platforms answer
    # in 100-500 ms, which is what bounds a thread's publishing time, not the CPU.
    latency: Duration | None = None


class PluginAccount(AccountSection):
    """An adapter from another package: its settings are its own business (secrets still checked)."""

    model_config = ConfigDict(extra="allow")


# --- what the rest of Crieur uses -----------------------------------------------------------


def default_credentials_path() -> Path:
    """The credentials file `crieur auth` writes: `$CRIEUR_CREDENTIALS`, else the user config dir."""
    explicit = os.environ.get("CRIEUR_CREDENTIALS")
    if explicit:
        return Path(explicit).expanduser()
    try:
        from platformdirs import user_config_dir
    except ImportError:  # platformdirs is optional here; fall back to the XDG default
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "crieur"
    else:
        base = Path(user_config_dir("crieur"))
    return base / "credentials.toml"


@dataclass(frozen=True)
class Account:
    """A named account on one platform, as a campaign defines it.

    `settings` holds the non-secret settings (instance, visibility, limit, url_length, handle,
    service, as, output, a plug-in's own keys). `credential_refs` maps each credential field to its
    `${VAR}` reference, plus `"credentials"` → the credentials-file reference when one is given:

    - `credentials: file` — the file `crieur auth` writes (`default_credentials_path()`), table
      named after the account;
    - `credentials: PATH.toml` or `credentials: PATH.toml#TABLE` (or `file#TABLE`) — a TOML file
      (relative to the campaign file, `~` expanded) whose table `[TABLE]` (default: the account
      name) holds the fields, e.g. `access_token = "…"`. It must not be readable by others.

    `${VAR}` fields override the file's. Nothing is read until `credentials()` is called.
    """

    name: str
    platform: str
    settings: Mapping[str, Any]
    credential_refs: Mapping[str, str]
    offset: timedelta = timedelta(0)
    credentials_file: Path | None = None  # None for "the default file", resolved when read
    credentials_table: str | None = None

    @property
    def profile(self) -> str:
        """The platform whose formatting rules apply (a dryrun account's `as:`, else its own)."""
        return self.settings.get("as") or self.platform

    def credentials(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The account's secrets, read now from the credentials file and `env` (default os.environ).

        :raises BadInput: a referenced variable is unset or empty, or the credentials file is
            missing, unreadable, readable by others, or has no table for this account. The message
            names the account and the variable or file, never a secret.
        """
        env = os.environ if env is None else env
        result: dict[str, str] = {}
        if "credentials" in self.credential_refs:
            result.update(self._from_file())
        unset: list[str] = []
        empty: list[str] = []
        for key, ref in self.credential_refs.items():
            if key == "credentials":
                continue
            var = ref[2:-1]
            value = env.get(var)
            if not value:
                (empty if value == "" else unset).append(var)
                continue
            result[key] = clean_secret(value, f"account {self.name}: environment variable {var}")
        if unset or empty:  # every one at once: fixing them one run at a time is a slow way to learn
            parts = [f"environment variable{'s' if len(names) > 1 else ''} {', '.join(names)} "
                     f"{'are' if len(names) > 1 else 'is'} {state}"
                     for names, state in ((unset, "not set"), (empty, "empty")) if names]
            raise BadInput(f"account {self.name}: {'; '.join(parts)}")
        return result

    def definition(self) -> tuple[Any, ...]:
        """What must be equal for two campaigns to share this account."""
        return (self.platform, dict(self.settings), dict(self.credential_refs), self.offset,
                self.credentials_file, self.credentials_table)

    def _from_file(self) -> dict[str, str]:
        path = self.credentials_file or default_credentials_path()
        table = self.credentials_table or self.name
        where = f"account {self.name}: credentials file {path}"
        try:
            mode = path.stat().st_mode
            if sys.platform != "win32" and mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise BadInput(f"{where} is readable by other users; run: chmod 600 {path}")
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise BadInput(f"{where} does not exist (run crieur auth)") from None
        except OSError as exc:
            raise BadInput(f"{where}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError:
            raise BadInput(f"{where} is not valid TOML") from None
        section = data.get(table)
        if not isinstance(section, dict):
            raise BadInput(f"{where} has no [{table}] table")
        return {str(k): clean_secret(str(v), f"{where}: key {k} of [{table}]") for k, v in section.items()}


def clean_secret(value: str, where: str) -> str:
    """A credential as read, checked: surrounding whitespace (a Windows line end, a pasted
    newline) is stripped, with a warning naming `where`; a control character inside, or a value
    that is only whitespace, is a BadInput naming `where`. Never the value itself: it is a secret.
    """
    stripped = value.strip()
    if not stripped:
        raise BadInput(f"{where} holds only whitespace")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in stripped):
        raise BadInput(f"{where} contains a control character (not shown: it is a secret); "
                       "set it again without it")
    if stripped != value:
        import logging

        logging.getLogger("crieur.credentials").warning(
            "%s had whitespace around it (a Windows line end or a pasted newline?); stripped", where)
    return stripped


@dataclass(frozen=True)
class Sources:
    """Where a campaign's articles come from; paths are absolute (resolved from the campaign file)."""

    files: tuple[str, ...] = ()
    folder: Path | None = None
    feed: FeedSection | None = None  # .url, .backfill, .timeout
    backfill: int = 0
    settle: timedelta = timedelta(seconds=2)
    interval: timedelta = timedelta(minutes=1)


@dataclass(frozen=True, eq=False)
class Campaign:
    """A loaded, valid campaign. Build it with `load_campaign`."""

    name: str
    path: Path
    timezone: ZoneInfo
    lang: str | None
    accounts: Mapping[str, Account]
    sources: Sources
    schedule: Schedule
    grace: timedelta
    retry: RetryPolicy
    format: Mapping[str, FormatSection] = field(default_factory=dict)
    # `notify:` (None: no notifications) and `together:` (None: each account its own next slot).
    notify: NotifySection | None = None
    together: timedelta | None = None
    review: str = "none"

    def review_for(self, account: Account) -> str:
        """`required` when the account's threads wait for a person's approval: the account's own
        `review:` if it says, else the campaign's."""
        return account.settings.get("review") or self.review

    def format_options(self, platform_name: str) -> Any:
        """`bot.formatter.FormatOptions` for `platform_name`: its defaults, then this campaign's
        `format.<platform_name>` keys (only those written). Pass `account.profile` for an account.
        """
        from bot import formatter

        try:
            base = formatter.default_options(platform_name)
        except (AttributeError, LookupError, ValueError):
            base = formatter.FormatOptions()
        section = self.format.get(platform_name)
        if section is None:
            return base
        changes = {k: getattr(section, k) for k in section.model_fields_set if k != "hashtags"}
        if "hashtags" in section.model_fields_set:
            tags = section.hashtags
            if tags is None:
                changes["hashtags"] = None
            else:
                budget = base.hashtags or formatter.HashtagBudget()
                changes["hashtags"] = replace(budget, **{k: getattr(tags, k) for k in tags.model_fields_set})
        return replace(base, **changes)


# --- loading --------------------------------------------------------------------------------


def _platforms_for(data: Mapping[str, Any]) -> list[str]:
    """The platforms a file may name: the built-in ones, and the plug-ins' only when the file
    names a platform that is not built in (the entry-point scan costs ~40 ms at start-up)."""
    from bot.platforms.registry import builtin_names, is_builtin, plugin_names

    names: set[object] = set()
    accounts = data.get("accounts")
    if isinstance(accounts, dict):
        for account in accounts.values():
            if isinstance(account, dict):
                names.update(account.get(key) for key in ("platform", "as") if key in account)
    if isinstance(data.get("format"), dict):
        names.update(data["format"])
    if all(is_builtin(name) for name in names):
        return sorted(builtin_names())
    return sorted(plugin_names())


def load_campaign(path: str | os.PathLike[str]) -> Campaign:
    """Load and validate one campaign file.

    :raises CampaignError: (a `BadInput`) listing every problem, one `file:line: field: message`
        a line.
    """
    campaign, problems, _ = _check_file(path)
    if problems or campaign is None:
        raise CampaignError(problems)
    return campaign


def load_campaigns(paths: Iterable[str | os.PathLike[str]]) -> list[Campaign]:
    """Load several campaigns and check the rules across them (shared accounts, unique names).

    :raises CampaignError: listing every problem of every file.
    """
    campaigns, problems = _check_files(paths)
    if problems:
        raise CampaignError(problems)
    return campaigns


def validate_files(paths: Iterable[str | os.PathLike[str]]) -> list[Problem]:
    """Every problem found in every file, and across them; empty when all are valid."""
    return _check_files(paths)[1]


def _check_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Campaign], list[Problem]]:
    campaigns: list[Campaign] = []
    problems: list[Problem] = []
    seen_paths: set[Path] = set()
    accounts: dict[str, tuple[Account, str]] = {}
    names: dict[str, str] = {}
    for path in paths:
        resolved = Path(path).resolve()
        if resolved in seen_paths:
            continue
        seen_paths.add(resolved)
        campaign, found, lines = _check_file(path)
        problems += found
        if campaign is None:
            continue
        campaigns.append(campaign)
        file = str(path)
        if campaign.name in names:
            problems.append(Problem(file, lines.line_of(("name",)), "name",
                                    f"campaign {campaign.name} is also defined in {names[campaign.name]}"))
        names.setdefault(campaign.name, file)
        for account in campaign.accounts.values():
            first = accounts.get(account.name)
            if first is None:
                accounts[account.name] = (account, file)
            elif first[0].definition() != account.definition():
                differs = _differences(first[0], account)
                problems.append(Problem(
                    file, lines.line_of(("accounts", account.name)), f"accounts.{account.name}",
                    f"account {account.name} is defined differently in {first[1]} ({differs}); "
                    "an account name is global: define it identically in both files"))
    return campaigns, problems


def _differences(a: Account, b: Account) -> str:
    keys = []
    if a.platform != b.platform:
        keys.append("platform")
    keys += sorted(k for k in set(a.settings) | set(b.settings) if a.settings.get(k) != b.settings.get(k))
    keys += sorted(k for k in set(a.credential_refs) | set(b.credential_refs)
                   if a.credential_refs.get(k) != b.credential_refs.get(k) and k not in keys)
    if a.offset != b.offset:
        keys.append("offset")
    if "credentials" not in keys and (a.credentials_file, a.credentials_table) != (b.credentials_file, b.credentials_table):
        keys.append("credentials")
    return "differs in " + ", ".join(keys)


def _check_file(path: str | os.PathLike[str]) -> tuple[Campaign | None, list[Problem], Located]:
    """Parse and validate one file; returns the campaign (None if any problem) and the problems."""
    file = str(path)
    empty = Located(None)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(file, None, "", "no such file")], empty
    except UnicodeDecodeError:
        return None, [Problem(file, None, "", "not a UTF-8 text file")], empty
    except OSError as exc:
        return None, [Problem(file, None, "", f"cannot read: {exc.strerror}")], empty
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        return None, [Problem(file, exc.line, "", f"YAML syntax error: {exc}")], empty
    data = located.data
    if data is None:
        return None, [Problem(file, 1, "", "empty campaign file; a campaign needs name, timezone, "
                                           "accounts and schedule")], located
    if not isinstance(data, dict):
        return None, [Problem(file, located.line_of(()), "",
                              f"a campaign file must be a mapping of keys (name, timezone, accounts, "
                              f"schedule, …), not {_kind(data)}")], located

    checker = _Checker(file, located)
    for dup in located.duplicates:
        checker.add(dup, f"duplicate key '{dup[-1]}'")
    section = checker.validate(CampaignSection, data, ())
    platforms = _platforms_for(data)
    accounts = _check_accounts(checker, data.get("accounts"), platforms)
    if isinstance(data.get("format"), dict):
        for key in data["format"]:
            if key not in platforms:
                checker.add(("format", key), f"unknown platform '{key}'{_suggest(str(key), platforms)} "
                            f"(known: {', '.join(platforms)})")
    campaign = None
    if section is not None and not checker.problems:
        campaign = _build(Path(path), section, accounts, checker)
    problems = sorted(checker.problems, key=lambda p: p.line or 0)
    return (campaign if not problems else None), problems, located


def _check_accounts(checker: _Checker, raw: object, platforms: list[str]) -> dict[str, AccountSection]:
    """Validate each account with its platform's model; report literal secrets without echoing them."""
    if not isinstance(raw, dict):
        return {}
    valid: dict[str, AccountSection] = {}
    for name, settings in raw.items():
        if not isinstance(settings, dict):
            continue  # CampaignSection already reported "expected a mapping"
        where = ("accounts", name)
        settings = dict(settings)
        # Secrets first, and by name, so no later message can echo one.
        for key in list(settings):
            if key == "credentials" or not isinstance(key, str):
                continue
            if key in CREDENTIAL_FIELDS or _SECRETISH.search(key):
                value = settings[key]
                if not (isinstance(value, str) and _ENV_REF.fullmatch(value.strip())):
                    checker.add(where + (key,), "literal secret; use ${VAR}")
                    # A stand-in reference: the secret goes no further, and the field still
                    # counts as present (no second, misleading "no credentials" problem).
                    settings[key] = "${REDACTED}"
        cred = settings.get("credentials")
        if cred is not None and not _credentials_ref_ok(cred):
            checker.add(where + ("credentials",), 'expected "file" or a credentials .toml path '
                        '(e.g. ~/.config/crieur/credentials.toml#desk-x)')
            del settings["credentials"]
        platform = settings.get("platform")
        if platform is None:
            checker.add(where, f"missing key 'platform' (one of {', '.join(platforms)})")
            settings["platform"] = "?"
            model: type[AccountSection] = PluginAccount
        elif not isinstance(platform, str) or platform not in platforms:
            checker.add(where + ("platform",), f"unknown platform '{platform}'{_suggest(str(platform), platforms)}"
                        f" (known: {', '.join(platforms)})")
            settings["platform"] = "?"
            model = PluginAccount
        else:
            model = _account_model(platform, checker, where)
        account = checker.validate(model, settings, where)
        if account is not None and platform in platforms:
            valid[name] = account
    return valid


def _account_model(platform: str, checker: _Checker, where: tuple[Any, ...]) -> type[AccountSection]:
    """The platform plug-in's account model (PluginAccount when it brings none or is broken)."""
    from bot.platforms.registry import get_plugin

    try:
        model = get_plugin(platform).account_model()
    except BadInput as exc:
        checker.add(where + ("platform",), str(exc))
        return PluginAccount
    if model is None:
        return PluginAccount
    if not (isinstance(model, type) and issubclass(model, AccountSection)):
        checker.add(where + ("platform",), f"platform {platform!r}: its account model is not a "
                    "bot.campaign.AccountSection subclass")
        return PluginAccount
    return model


def _credentials_ref_ok(value: object) -> bool:
    if not isinstance(value, str):
        return False
    target, _, table = value.strip().partition("#")
    if table and not _NAME.fullmatch(table):
        return False
    return target == "file" or target.endswith(".toml")


def _build(path: Path, section: CampaignSection, raw_accounts: Mapping[str, AccountSection],
           checker: _Checker) -> Campaign | None:
    base = path.parent
    tz = ZoneInfo(section.timezone)
    accounts = {name: _account(name, model, base) for name, model in raw_accounts.items()}
    src = section.sources
    sources = Sources(
        files=tuple(str(_resolve(base, pattern)) for pattern in src.files),
        folder=_resolve(base, src.folder) if src.folder else None,
        feed=_feed(src),
        backfill=src.backfill,
        settle=src.settle,
        interval=src.interval,
    )
    schedule = Schedule(
        timezone=tz,
        slots=tuple(CronSlot.parse(s) for s in section.schedule.slots),
        spacing=section.schedule.spacing,
        quiet_hours=tuple(QuietHours.parse(q) for q in section.schedule.quiet_hours),
        offsets={name: a.offset for name, a in accounts.items()},
    )
    try:
        schedule.next_slot(datetime.now(timezone.utc))
    except NoSlotError:
        checker.add(("schedule", "slots"), "no slot in the next five years"
                    + (" outside quiet_hours" if schedule.quiet_hours else ""))
        return None
    return Campaign(
        name=section.name, path=path, timezone=tz, lang=section.lang, accounts=accounts,
        sources=sources, schedule=schedule, grace=section.grace, retry=section.retry,
        format=dict(section.format), notify=section.notify, together=section.together,
        review=section.review,
    )


def _account(name: str, model: AccountSection, base: Path) -> Account:
    values = model.model_dump(by_alias=True)
    values.update(model.model_extra or {})
    refs: dict[str, str] = {}
    settings: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("platform", "offset", "credentials") or value is None:
            continue
        if key in CREDENTIAL_FIELDS or _SECRETISH.search(key):
            refs[key] = value
        else:
            settings[key] = value
    if settings.get("output"):
        settings["output"] = str(_resolve(base, settings["output"]))
    cred_file: Path | None = None
    table: str | None = None
    if model.credentials is not None:
        refs["credentials"] = model.credentials
        target, _, table_text = model.credentials.strip().partition("#")
        table = table_text or None
        cred_file = None if target == "file" else _resolve(base, target)
    return Account(name=name, platform=model.platform, settings=settings, credential_refs=refs,
                   offset=model.offset, credentials_file=cred_file, credentials_table=table)


def _feed(src: SourcesSection) -> FeedSection | None:
    # `feed: URL` plus `backfill: N` beside it reads as the long form with that backfill.
    if src.feed is not None and "backfill" not in src.feed.model_fields_set:
        return src.feed.model_copy(update={"backfill": src.backfill})
    return src.feed


def _resolve(base: Path, text: str) -> Path:
    # normpath, not resolve(): a glob pattern cannot be resolved, and ".." should still vanish.
    path = Path(text).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else (base / path).absolute()))


# --- turning pydantic errors into Problems --------------------------------------------------


class _Checker:
    """Collects Problems for one file, mapping each error location to its line in the YAML."""

    def __init__(self, file: str, located: Located) -> None:
        self.file = file
        self.located = located
        self.problems: list[Problem] = []

    def add(self, loc: tuple[Any, ...], message: str) -> None:
        self.problems.append(Problem(self.file, self.located.line_of(loc), _field(loc), message))

    def validate(self, model: type[BaseModel], data: Any, where: tuple[Any, ...]) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=True):
                loc = where + tuple(p for p in error["loc"] if p != "[key]")
                loc = self._trim(loc)
                self.add(loc, _message(error, model, error["loc"]))
            return None

    def _trim(self, loc: tuple[Any, ...]) -> tuple[Any, ...]:
        """Cut `loc` where the file holds a plain value: a short form such as `quiet_hours: "…"`
        (read as a list of one) or `feed: URL` (read as `{url: URL}`) must not be reported as
        `quiet_hours[0]` or `feed.url`, which the user never wrote."""
        value = self.located.data
        for index, part in enumerate(loc):
            if isinstance(value, dict):
                if part not in value:
                    return loc  # a missing key: name it in full
                value = value[part]
            elif isinstance(value, list) and isinstance(part, int) and part < len(value):
                value = value[part]
            else:
                return loc[:index]
        return loc


def _field(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: Mapping[str, Any], model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = loc[-1]
        return f"unknown key '{key}'{_suggest(str(key), _keys_at(model, loc[:-1]))}"
    if kind == "missing":
        return "missing required key"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "expected a whole number"
    if kind in ("float_type", "float_parsing"):
        return "expected a number"
    if kind == "string_type":
        if isinstance(error.get("input"), bool):
            # YAML 1.1 reads no/yes/on/off as booleans: `lang: no` (Norwegian) is False.
            return "expected a text value; YAML read this as true/false, put it in quotes"
        return "expected a text value"
    if kind == "bool_type":
        return "expected true or false"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping (key: value), not {_kind(error.get('input'))}"
    if kind == "list_type":
        return f"expected a list, not {_kind(error.get('input'))}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}"
    if kind == "literal_error":
        value = error.get("input")
        got = f" (got '{value}')" if isinstance(value, (str, int, float)) and len(str(value)) <= 40 else ""
        return f"must be one of {ctx.get('expected')}{got}"
    msg = str(error["msg"])
    return msg[:1].lower() + msg[1:]


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "empty"
    names = {str: "a text value", int: "an int value", float: "a number", bool: "true/false"}
    return names.get(type(value), f"a {type(value).__name__} value")


def _suggest(word: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _keys_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys valid at `loc` inside `model`'s shape (for "did you mean" suggestions)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            found = next((f.annotation for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            if found is None:
                return []
            tp = found
        elif get_origin(tp) in (dict, Mapping):
            tp = get_args(tp)[1]
        elif get_origin(tp) in (list, tuple):
            tp = get_args(tp)[0]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            models = [a for a in get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
            others = [a for a in get_args(tp) if a is not type(None)]
            tp = models[0] if models else others[0]
        else:
            return tp
