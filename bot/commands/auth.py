"""`crieur auth mastodon|x|bluesky`: the platforms' authorisation flows, writing tokens to the credentials file."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import BadInput, CrieurError

if TYPE_CHECKING:
    import requests

OOB = "urn:ietf:wg:oauth:2.0:oob"
# What the Mastodon adapter needs and nothing more: post, upload media, read its own account and
# statuses (to verify, and to find a post after an unknown outcome).
MASTODON_SCOPES = "read:accounts read:statuses write:statuses write:media"
TIMEOUT = 10.0  # seconds, for every HTTP call of a flow
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")  # the campaign's account-name rule
# Libraries that log request bodies or headers at DEBUG (requests_oauthlib logs the token
# response): held at WARNING during a flow, so no --log-level shows a secret.
_CHATTY_LOGGERS = ("requests_oauthlib", "oauthlib", "urllib3", "mastodon", "tweepy", "httpx", "httpcore", "atproto")


def http_session() -> requests.Session:
    """The HTTP session every flow uses. Tests replace this to route X's fixed host to a fake server."""
    import requests

    return requests.Session()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "auth", help="authorise Crieur to post on an account (writes the credentials file)",
        description="Run a platform's authorisation flow and save the tokens (0600) in the credentials "
        "file, in a table named after the account; a campaign uses them with `credentials: file`.",
    )
    platforms = parser.add_subparsers(dest="auth_platform", metavar="PLATFORM", required=True)

    masto = platforms.add_parser(
        "mastodon", help="register an app on an instance and authorise it (OAuth code)",
        description="Register Crieur as an app on the instance, print the authorisation URL, read the code "
        "the instance shows (or take --code), and save access_token, client_id and client_secret. Without a "
        "terminal, run it once without --code (it saves the app and prints the URL), then again with --code.",
    )
    masto.add_argument("--instance", required=True, metavar="URL", help="e.g. https://mastodon.social")
    masto.add_argument("--code", metavar="CODE", help="the authorisation code (finishes a flow started earlier)")
    masto.add_argument("--scopes", default=MASTODON_SCOPES, metavar="SCOPES",
                       help=f'space-separated OAuth scopes (default: "{MASTODON_SCOPES}"; '
                       'older servers may need "read write")')
    _common_options(masto, "mastodon")
    masto.set_defaults(handler=run_mastodon)

    x = platforms.add_parser(
        "x", help="authorise an X account (OAuth 1.0a PIN flow)",
        description="Print X's authorisation URL for your X app, read the PIN X shows (or take --pin), and "
        "save consumer_key, consumer_secret, access_token and access_token_secret. The app's API key and "
        "secret come from environment variables (never the command line), else the account's saved ones, "
        "else a prompt.",
    )
    x.add_argument("--pin", metavar="PIN", help="the PIN X showed (finishes a flow started earlier)")
    x.add_argument("--consumer-key-env", default="CRIEUR_X_CONSUMER_KEY", metavar="VAR",
                   help="variable holding the app's API key (default: CRIEUR_X_CONSUMER_KEY)")
    x.add_argument("--consumer-secret-env", default="CRIEUR_X_CONSUMER_SECRET", metavar="VAR",
                   help="variable holding the app's API key secret (default: CRIEUR_X_CONSUMER_SECRET)")
    _common_options(x, "x")
    x.set_defaults(handler=run_x)

    sky = platforms.add_parser(
        "bluesky", help="save a Bluesky handle and app password, checked with the PDS",
        description="Log in to the PDS with the handle and an app password (Settings → Privacy and security "
        "→ App passwords), and save both only if the PDS accepts them. The password comes from an "
        "environment variable (never the command line), else standard input.",
    )
    sky.add_argument("--handle", required=True, metavar="HANDLE", help="e.g. desk.bsky.social")
    sky.add_argument("--service", default="https://bsky.social", metavar="URL",
                     help="the account's PDS (default: https://bsky.social)")
    sky.add_argument("--password-env", default="CRIEUR_BLUESKY_APP_PASSWORD", metavar="VAR",
                     help="variable holding the app password (default: CRIEUR_BLUESKY_APP_PASSWORD)")
    _common_options(sky, "bluesky")
    sky.set_defaults(handler=run_bluesky)


def _common_options(parser: argparse.ArgumentParser, default_account: str) -> None:
    parser.add_argument("--account", default=default_account, metavar="NAME",
                        help=f"the account name, as in the campaign: the file's table (default: {default_account})")
    parser.add_argument("--file", metavar="PATH",
                        help="credentials file (default: $CRIEUR_CREDENTIALS, else credentials.toml in the "
                        "user config directory)")


# --- Mastodon -------------------------------------------------------------------------------


def run_mastodon(args: argparse.Namespace) -> int:
    """Register the app (unless --code), authorise, exchange the code, save, verify. Exit 0 on success."""
    from mastodon import Mastodon

    from bot.credentials import read_table, update_table

    account, path = _account(args), _path(args)
    instance = _instance_url(args.instance)
    scopes = args.scopes.replace(",", " ").split()
    if not scopes:
        raise BadInput("--scopes: no scope given")
    allow_http = instance.startswith("http://")  # a test server or a LAN instance: the user named it
    saved = read_table(path, account)  # fails early on a file readable by others
    session = http_session()
    last = _capture_responses(session)
    secrets: list[str] = []
    with _quiet_libraries():
        if args.code:
            client_id, client_secret = saved.get("client_id"), saved.get("client_secret")
            if not client_id or not client_secret:
                raise BadInput(f"account {account}: no Mastodon app saved in {path}; run first, without --code: "
                               f"{_finish_mastodon(args, instance, account, code=False)}")
            code = args.code.strip()
            secrets += [client_secret, code]
        else:
            client_id, client_secret = _register_app(instance, scopes, session, last)
            secrets.append(client_secret)
            # Saved now so that a second run with --code (a script has no terminal) can finish.
            update_table(path, account, {"client_id": client_id, "client_secret": client_secret})
            api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=instance,
                           request_timeout=TIMEOUT, session=session, version_check_mode="none")
            url = _mastodon_call(lambda: api.auth_request_url(redirect_uris=OOB, scopes=scopes,
                                                              allow_http=allow_http),
                                 "reading the instance's OAuth endpoints", instance, last, secrets)
            _show_url(_without_unset(url), f"sign in as the account for {account} on {instance}, choose Authorise")
            code = _read_answer("authorisation code", _finish_mastodon(args, instance, account, code=True))
            secrets.append(code)
        api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=instance,
                       request_timeout=TIMEOUT, session=session, version_check_mode="none")
        token = _mastodon_call(lambda: api.log_in(code=code, redirect_uri=OOB, scopes=scopes, allow_http=allow_http),
                               "exchanging the code", instance, last, secrets)
        update_table(path, account, {"client_id": client_id, "client_secret": client_secret, "access_token": token})
        handle = _verify("mastodon", {"instance": instance}, {"access_token": token}, session)
    _done(account, "mastodon", handle, path, f"platform: mastodon, instance: {instance}")
    return 0


def _register_app(instance: str, scopes: list[str], session: Any, last: dict[str, Any]) -> tuple[str, str]:
    from mastodon import Mastodon, MastodonError

    last.clear()
    try:
        return Mastodon.create_app("Crieur", scopes=scopes, redirect_uris=OOB,
                                   website="https://pypi.org/project/crieur/", api_base_url=instance,
                                   request_timeout=TIMEOUT, session=session)
    except (MastodonError, KeyError, TypeError) as exc:
        # create_app reads response['client_id'] blindly: an error body surfaces as KeyError, a
        # non-JSON page as a "network" error. The captured response tells what really happened.
        raise _mastodon_error(exc, "registering the app", instance, last, []) from None


def _mastodon_call(call: Any, doing: str, instance: str, last: dict[str, Any], secrets: list[str]) -> Any:
    from mastodon import MastodonError

    last.clear()  # an earlier call's answer must not explain this call's failure
    try:
        return call()
    except MastodonError as exc:
        raise _mastodon_error(exc, doing, instance, last, secrets) from None


def _mastodon_error(exc: BaseException, doing: str, instance: str, last: dict[str, Any],
                    secrets: list[str]) -> CrieurError:
    """One line saying what the instance answered (its own error text), never a secret."""
    from bot.adapters.errors import redact

    response = last.get("response")
    last.clear()
    if response is None or response.ok:
        # Nothing answered (DNS, refused, timeout) or the failure is Mastodon.py's own check
        # (granted scopes short of the requested ones).
        text = redact(f"mastodon: {doing} at {instance} failed: {exc}", secrets)
        return CrieurError(text) if response is None else BadInput(text)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if body.get("error"):
        detail = str(body["error"]) + (f": {body['error_description']}" if body.get("error_description") else "")
    else:
        detail = f"HTTP {response.status_code} {response.reason}, not a Mastodon API answer (is {instance} " \
                 "a Mastodon instance?)"
    hint = ""
    if body.get("error") == "invalid_grant":
        hint = " (a code works once, for the app that asked for it: run again without --code for a new one)"
    elif body.get("error") == "invalid_client":
        hint = " (the saved app is unknown to this instance: run again without --code)"
    message = redact(f"mastodon: {doing} at {instance} failed: {detail}{hint}", secrets)
    return CrieurError(message) if response.status_code >= 500 else BadInput(message)


def _without_unset(url: str) -> str:
    # Mastodon.py 2.3 writes unset options as "state=None&lang=None&force_login=False": drop them,
    # or an instance may take "None" for a language.
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not (k in ("state", "lang", "force_login") and v in ("None", "False", ""))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _finish_mastodon(args: argparse.Namespace, instance: str, account: str, *, code: bool) -> str:
    parts = ["crieur auth mastodon", f"--instance {instance}", f"--account {account}"]
    if args.scopes != MASTODON_SCOPES:
        parts.append(f'--scopes "{args.scopes}"')
    if args.file:
        parts.append(f"--file {args.file}")
    if code:
        parts.append("--code CODE")
    return " ".join(parts)


def _instance_url(text: str, option: str = "--instance") -> str:
    url = text.strip().rstrip("/")
    if "://" not in url:
        url = "https://" + url  # "mastodon.social" is how people name an instance
    if not re.fullmatch(r"https?://[^\s/?#]+(?:/[^\s?#]*)?", url):
        raise BadInput(f'{option}: invalid URL "{text}" (e.g. https://mastodon.social)')
    return url


# --- X --------------------------------------------------------------------------------------


def run_x(args: argparse.Namespace) -> int:
    """OAuth 1.0a PIN flow: request token (unless --pin), authorise, exchange the PIN, save, verify."""
    from bot.credentials import read_table, update_table

    account, path = _account(args), _path(args)
    saved = read_table(path, account)
    session = http_session()
    finish = f"crieur auth x --account {account}" + (f" --file {args.file}" if args.file else "") + " --pin PIN"
    with _quiet_libraries():
        if args.pin:
            request_token = saved.get("request_token")
            request_secret = saved.get("request_token_secret")
            if not request_token or not request_secret:
                raise BadInput(f"account {account}: no authorisation in progress in {path}; run first, without "
                               f"--pin: crieur auth x --account {account}" + (f" --file {args.file}" if args.file else ""))
            # The request token belongs to the app that asked for it: the saved keys first.
            key = saved.get("consumer_key") or _env(args.consumer_key_env)
            secret = saved.get("consumer_secret") or _env(args.consumer_secret_env)
            if not key or not secret:
                raise BadInput(f"account {account}: the app's keys are missing: set {args.consumer_key_env} "
                               f"and {args.consumer_secret_env}")
            pin = args.pin.strip()
        else:
            key, secret = _consumer_keys(args, saved)
            handler = _PinFlow(key, secret, session)
            url = _x_call(handler.get_authorization_url, "asking X for a request token", [key, secret])
            request_token = handler.request_token["oauth_token"]
            request_secret = handler.request_token["oauth_token_secret"]
            update_table(path, account, {"consumer_key": key, "consumer_secret": secret,
                                         "request_token": request_token, "request_token_secret": request_secret})
            _show_url(url, f"sign in to X as the account for {account}, choose Authorize app")
            pin = _read_answer("PIN", finish)
        handler = _PinFlow(key, secret, session)
        handler.request_token = {"oauth_token": request_token, "oauth_token_secret": request_secret}
        token, token_secret = _x_call(lambda: handler.get_access_token(pin), "exchanging the PIN",
                                      [key, secret, request_secret])
        credentials = {"consumer_key": key, "consumer_secret": secret,
                       "access_token": token, "access_token_secret": token_secret}
        update_table(path, account, credentials, remove=("request_token", "request_token_secret"))
        handle = _verify("x", {}, credentials, session)
    _done(account, "x", "@" + handle.lstrip("@"), path, "platform: x")
    return 0


# --- Bluesky ---------------------------------------------------------------------------------


def run_bluesky(args: argparse.Namespace) -> int:
    """Check the handle and app password with the PDS (createSession), then save them. Exit 0 on success."""
    from bot.credentials import read_table, update_table

    account, path = _account(args), _path(args)
    read_table(path, account)  # fails early on a file readable by others
    handle = args.handle.strip().lstrip("@")
    if not handle or any(c.isspace() for c in handle):
        raise BadInput(f'--handle: "{args.handle}" is not a handle (e.g. desk.bsky.social)')
    service = _instance_url(args.service, "--service")
    password = _env(args.password_env)
    if not password:
        finish = f"{args.password_env}=… crieur auth bluesky --handle {handle} --account {account}"
        password = _read_secret(f"app password for {handle}", finish)
    credentials = {"handle": handle, "app_password": password}
    with _quiet_libraries():
        # Checked before saving: a mistyped password is never written down.
        checked = _verify("bluesky", {"service": service}, credentials, None, before_saving=True)
    update_table(path, account, credentials)
    _done(account, "bluesky", checked, path, f"platform: bluesky, service: {service}")
    return 0


def _read_secret(label: str, finish: str) -> str:
    """A secret from the terminal (not echoed) or a line of stdin; BadInput when there is none."""
    if _interactive():
        import getpass

        answer = getpass.getpass(f"{label}: ").strip()
        if not answer:
            raise BadInput(f"no {label} given; or set it in the environment: {finish}")
        return answer
    return _read_answer(label, finish)


def _consumer_keys(args: argparse.Namespace, saved: dict[str, str]) -> tuple[str, str]:
    key = _env(args.consumer_key_env) or saved.get("consumer_key")
    secret = _env(args.consumer_secret_env) or saved.get("consumer_secret")
    if key and secret:
        return key, secret
    if not _interactive():
        raise BadInput(f"X app keys missing: set {args.consumer_key_env} and {args.consumer_secret_env} to your "
                       "X app's API key and API key secret (developer.x.com → your app → Keys and tokens)")
    import getpass

    print("Your X app's keys (developer.x.com → your app → Keys and tokens):", file=sys.stderr)
    if not key:
        print("API key: ", end="", file=sys.stderr, flush=True)
        key = sys.stdin.readline().strip()
    if not secret:
        secret = getpass.getpass("API key secret (not shown): ").strip()
    if not key or not secret:
        raise BadInput("X app keys missing")
    return key, secret


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _pin_flow_class() -> type:
    import tweepy

    class PinFlow(tweepy.OAuth1UserHandler):
        """tweepy's handler with the "oob" callback, whose OAuth sessions get our transports and a timeout.

        tweepy builds a fresh `OAuth1Session` for each step and gives no request a timeout; every
        session it assigns to `self.oauth` is equipped here instead.
        """

        def __init__(self, key: str, secret: str, template: Any) -> None:
            self._template = template
            super().__init__(key, secret, callback="oob")

        @property
        def oauth(self) -> Any:
            return self._oauth

        @oauth.setter
        def oauth(self, session: Any) -> None:
            for prefix, transport in self._template.adapters.items():
                session.mount(prefix, transport)
            send = session.request

            def request(method: str, url: str, **kwargs: Any) -> Any:
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = TIMEOUT
                return send(method, url, **kwargs)

            session.request = request
            self._oauth = session

    return PinFlow


def _PinFlow(key: str, secret: str, session: Any) -> Any:  # noqa: N802 - reads as the class it builds
    return _pin_flow_class()(key, secret, session)


def _x_call(call: Any, doing: str, secrets: list[str]) -> Any:
    import requests
    import tweepy

    from bot.adapters.errors import redact

    try:
        return call()
    except tweepy.TweepyException as exc:
        # tweepy wraps each step's error, sometimes twice: TweepyException(TweepyException(cause)).
        cause: BaseException | None = exc
        while isinstance(cause, tweepy.TweepyException):
            cause = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else cause.__context__
        if isinstance(cause, requests.RequestException):
            raise CrieurError(redact(f"x: {doing} failed: cannot reach X: {cause}", secrets)) from None
        response = getattr(cause, "response", None)
        status = getattr(response, "status_code", None)
        detail = _x_detail(response) if response is not None else str(cause or exc)
        if status == 401 and "PIN" in doing:
            message = (f"x: {doing} failed: X refused the PIN ({detail}); a PIN works once, for the URL it was "
                       "shown for: run crieur auth x again")
        elif status == 401:
            message = f"x: {doing} failed: X refused the app's API key and secret ({detail})"
        else:
            message = f"x: {doing} failed: {detail}"
        error = CrieurError if status is None or status >= 500 else BadInput
        raise error(redact(message, secrets)) from None


def _x_detail(response: Any) -> str:
    try:
        body = response.json()
        errors = body.get("errors") or []
        text = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict)) or body.get("detail")
    except ValueError:
        text = response.text.strip()[:200]
    return f"{response.status_code}: {text}" if text else str(response.status_code)


# --- shared ---------------------------------------------------------------------------------


def _account(args: argparse.Namespace) -> str:
    if not _NAME.fullmatch(args.account):
        raise BadInput(f'--account: invalid name "{args.account}": use letters, digits, "-", "_", "." or "@"')
    return args.account


def _path(args: argparse.Namespace) -> Path:
    from bot.credentials import default_path

    return Path(args.file).expanduser() if args.file else default_path()


def _show_url(url: str, what: str) -> None:
    # The URL alone on stdout (a script can capture it); the instructions on stderr.
    print(f"Open this URL in a browser, {what}, then copy what the page shows:", file=sys.stderr)
    print(url, flush=True)


def _interactive() -> bool:
    try:
        return sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def _read_answer(label: str, finish: str) -> str:
    """A line from stdin (a terminal or a pipe); BadInput naming the non-interactive command when there is none."""
    stream = sys.stdin
    print(f"{label}: ", end="", file=sys.stderr, flush=True)
    line = ""
    if stream is not None:
        try:
            line = stream.readline()
        except (OSError, ValueError):  # closed or unreadable stdin
            line = ""
    answer = line.strip()
    if not answer:
        print(file=sys.stderr)
        where = "given" if _interactive() else "on standard input (no terminal?)"
        raise BadInput(f"no {label} {where}; after opening the URL, finish with: {finish}")
    return answer


def _verify(platform: str, settings: dict[str, Any], credentials: dict[str, str], session: Any, *,
            before_saving: bool = False) -> str:
    from bot.adapters import AdapterError, load_adapter_class

    adapter = load_adapter_class(platform).from_account(settings, credentials, session=session, timeout=TIMEOUT)
    try:
        return adapter.verify()
    except AdapterError as exc:
        what = "nothing was saved" if before_saving else "the tokens were saved, but checking them failed"
        raise CrieurError(f"{platform}: {what}: {exc.message}") from None
    finally:
        adapter.close()


def _done(account: str, platform: str, handle: str, path: Path, settings: str) -> None:
    from bot.credentials import default_path

    print(f"{account} ({platform}): {handle} authorised; credentials saved in {path} [{account}]")
    ref = "file" if path == default_path() else str(path)
    print(f"in a campaign: accounts: {{{account}: {{{settings}, credentials: {ref}}}}}", file=sys.stderr)


def _capture_responses(session: Any) -> dict[str, Any]:
    """Remember the session's last response, so a library's vague error can be told precisely."""
    last: dict[str, Any] = {}

    def hook(response: Any, *args: Any, **kwargs: Any) -> Any:
        last["response"] = response
        return response

    session.hooks["response"].append(hook)
    return last


@contextmanager
def _quiet_libraries() -> Iterator[None]:
    saved = {}
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
