"""The desk's web application (Starlette): its pages, its forms, and the rules every request follows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.errors import CrieurError
from bot.web import render
from bot.web.security import (
    CSRF_COOKIE,
    REVIEWER_COOKIE,
    TokenGate,
    cookies_of,
    new_csrf_value,
    same_origin,
)
from bot.web.week import accounts_of, parse_day, week_board, zone_of

log = logging.getLogger("crieur.desk")

# The most text a form may send (an article pasted in Preview included).
MAX_FORM_BYTES = 2_000_000
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",  # (no-referrer would make browsers send `Origin: null`)
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


class FormError(Exception):
    """Bad input in a form: shown on the page, nothing changed."""


@dataclass
class Desk:
    """What the pages share: the store (the daemon's), the campaigns served, the clock."""

    store: Any
    campaigns: Mapping[str, Any]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    env: Any = field(default_factory=render.make_environment)
    #: the servers' own limits kept by enqueue and the daemon (bot.live_limits.LiveLimits), or None
    limits: Any = None

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.campaigns)

    def account(self, name: str) -> Any:
        return accounts_of(self.campaigns).get(name)

    def markdown_server(self, account_name: str) -> str | None:
        """The name of the account's server when it renders post text as Markdown (from the
        limits enqueue and the daemon keep; the desk never asks the network)."""
        account = self.account(account_name)
        if account is None or self.limits is None:
            return None
        server = self.limits.resolve(account, fetch=False).server
        return server.markdown_renderer if server is not None else None

    def item_zone(self, item: Any) -> ZoneInfo:
        campaign = self.campaigns.get(item.campaign)
        if campaign is not None:
            return campaign.timezone
        try:
            return ZoneInfo((item.options or {}).get("timezone") or "UTC")
        except Exception:  # a zone this machine lacks
            return ZoneInfo("UTC")

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render a page with what every page needs (CSRF value, reviewer, counts for the menu)."""
        csrf = request.state.csrf
        body = self.env.get_template(template).render(
            request=request, csrf=csrf, reviewer=request.state.reviewer, css=render.stylesheet(),
            js=render.script(), attention=self.attention_count(), message=request.query_params.get("msg"),
            local=render.local_time, **context,
        )
        response = HTMLResponse(body, status_code=status)
        if request.state.new_csrf:
            response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/")
        return response

    def attention_count(self) -> int:
        return int(self.store.count_states(["awaiting_review", "needs_review", "failed"]))


def create_app(desk: Desk, *, token: str | None = None) -> Any:
    """The ASGI application: the pages behind the token gate (when a token is given)."""
    routes = [
        Route("/", lambda request: RedirectResponse("/week", status_code=303)),
        Route("/week", _guard(desk, week_page)),
        Route("/thread/{item_id:int}", _guard(desk, thread_page)),
        Route("/thread/{item_id:int}/{action}", _guard(desk, thread_action), methods=["POST"]),
        Route("/thread/{item_id:int}/media/{n:int}", _guard(desk, media_file)),
        Route("/attention", _guard(desk, attention_page)),
        Route("/account/{name}/resume", _guard(desk, resume_account), methods=["POST"]),
        Route("/preview", _guard(desk, preview_page), methods=["GET", "POST"]),
        Route("/reviewer", _guard(desk, set_reviewer), methods=["POST"]),
    ]
    middleware = []
    if token is None:
        # Without a token only this machine may come in, and only by a loopback name: a web page
        # whose domain is re-pointed at 127.0.0.1 (DNS rebinding) gets 400, not the desk.
        from starlette.middleware import Middleware
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]", "::1"]))
    app = Starlette(routes=routes, middleware=middleware)
    return TokenGate(_SecurityHeaders(app), token)


class _SecurityHeaders:
    """Adds the security headers to every response (no framing, no referrer, no caching)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _guard(desk: Desk, handler: Callable[..., Any]) -> Callable[[Request], Any]:
    """Every page through one door: CSRF cookie, CSRF check on POST, errors as pages (never a trace)."""

    async def endpoint(request: Request) -> Response:
        cookies = cookies_of(request.scope)
        request.state.csrf = cookies.get(CSRF_COOKIE) or new_csrf_value()
        request.state.new_csrf = CSRF_COOKIE not in cookies
        from urllib.parse import unquote

        request.state.reviewer = " ".join(unquote(cookies.get(REVIEWER_COOKIE, "")).split())[:100] or None
        form: dict[str, Any] = {}
        if request.method == "POST":
            if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
                return _plain(413, "The form is too large.")
            try:
                data = await request.form(max_part_size=MAX_FORM_BYTES)
            except Exception:
                return _plain(400, "The form could not be read.")
            form = {key: data.getlist(key) if len(data.getlist(key)) > 1 else data.get(key) for key in data.keys()}
            sent = form.get("csrf") or request.headers.get("x-csrf-token")
            if not same_origin(request.scope) or not sent or request.state.new_csrf or sent != request.state.csrf:
                return _plain(403, "This form is stale or comes from another site: nothing was changed. "
                                   "Reload the page and try again.")
        from starlette.concurrency import run_in_threadpool

        try:
            return await run_in_threadpool(handler, desk, request, form)
        except Exception as error:  # the boundary: a bug shows one readable line, logs its type only
            log.error("desk: %s %s failed: %s", request.method, request.url.path, type(error).__name__)
            log.debug("desk error", exc_info=True)
            return _plain(500, "Something went wrong on the desk; nothing more was changed. See the server's log.")

    return endpoint


def _plain(status: int, text: str) -> HTMLResponse:
    from markupsafe import escape

    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>Crieur desk</title><body style='font-family:system-ui;"
        f"max-width:40rem;margin:4rem auto'><h1>{status}</h1><p>{escape(text)}</p><p><a href='/week'>Back to the week</a></p>",
        status_code=status,
    )


def _back(path: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'msg': message})}", status_code=303)


# -- pages ------------------------------------------------------------------------------------


def week_page(desk: Desk, request: Request, form: dict[str, Any]) -> Response:
    zone = desk.zone
    now = desk.clock()
    today = now.astimezone(zone).date()
    # The coming seven days by default: a desk looks ahead, not back to Monday.
    start = parse_day(request.query_params.get("start"), today)
    account = request.query_params.get("account") or None
    board = week_board(desk.store, desk.campaigns, start, zone, account=account, now=now)
    return desk.page(request, "week.html", week=board, today=today, account=account, now=now,
                     prev=(start - timedelta(days=7)).isoformat(), next=(start + timedelta(days=7)).isoformat(),
                     this_week=today.isoformat())


def thread_page(desk: Desk, request: Request, form: dict[str, Any], *, status: int = 200,
                error: list[str] | None = None, drafts: list[str] | None = None, editing: bool = False) -> Response:
    from bot.store import NoSuchItem

    item_id = int(request.path_params["item_id"])
    try:
        item = desk.store.get_item(item_id)
    except NoSuchItem:
        return _plain(404, f"There is no thread {item_id} in the queue.")
    zone = desk.item_zone(item)
    cards = render.item_cards(item, desk.markdown_server(item.account))
    if drafts:
        render.count_drafts(item, cards, drafts)
    profile = (item.options or {}).get("profile") or item.platform
    look = render.look_for(item.account, profile, desk.account(item.account))
    history = desk.store.attempts(item.id)
    edits = [h for h in history if h.outcome == "edited"]
    approvals = [h for h in history if h.outcome == "approved" and (not edits or h.id > edits[-1].id)]
    account_state = desk.store.account_state(item.account)
    now = desk.clock()
    return desk.page(
        request, "thread.html", status=status, item=item, cards=cards, look=look, history=history, zone=zone,
        approval=approvals[-1] if approvals and item.state != "awaiting_review" else None,
        error=error, drafts=drafts, editing=editing or request.query_params.get("edit") == "1",
        paused=account_state if account_state.is_paused(now) else None, now=now,
        any_posted=any(c.state == "posted" for c in cards),
        default_at=(max(item.due_at, now) + timedelta(hours=1)).astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
    )


def attention_page(desk: Desk, request: Request, form: dict[str, Any]) -> Response:
    store = desk.store
    waiting = store.list_items(state="awaiting_review", limit=200)
    troubled = store.list_items(state="needs_review", limit=200) + store.list_items(state="failed", limit=200)
    paused = store.paused_accounts(desk.clock())
    return desk.page(request, "attention.html", waiting=waiting, troubled=troubled, paused=paused,
                     zone=desk.zone)


def preview_page(desk: Desk, request: Request, form: dict[str, Any]) -> Response:
    from bot.errors import BadInput

    context: dict[str, Any] = {"campaign_names": sorted(desk.campaigns), "text": "", "chosen": None,
                               "previews": None, "error": None}
    if request.method == "POST":
        text = form.get("article") or ""
        upload = form.get("file")
        if upload is not None and hasattr(upload, "file") and getattr(upload, "filename", None):
            raw = upload.file.read(MAX_FORM_BYTES + 1)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                context["error"] = f"{upload.filename} is not UTF-8 text"
        chosen = form.get("campaign") or None
        context.update(text=text, chosen=chosen)
        if not context["error"]:
            if not text.strip():
                context["error"] = "Paste an article or choose a file first."
            else:
                try:
                    context["previews"] = preview_threads(text, desk.campaigns.get(chosen) if chosen else None,
                                                          limits=desk.limits)
                except BadInput as error:
                    context["error"] = str(error)
    return desk.page(request, "preview.html", status=400 if context["error"] else 200, **context)


def preview_threads(text: str, campaign: Any, *, name: str = "<pasted article>",
                    limits: Any = None) -> list[dict[str, Any]]:
    """The article's thread for each account of `campaign` (its format settings and limits: the
    servers' own when `limits` keeps fresh ones, nothing is asked over the network), or for X,
    Mastodon and Bluesky with their defaults; nothing is queued."""
    from bot.article import parse_article
    from bot.enqueue import platform_for
    from bot.formatter import default_options, format_thread
    from bot.platforms import get_platform
    from bot.platforms.registry import default_preview_names

    article = parse_article(text, path=name, default_lang=campaign.lang if campaign else None)
    media = [{"path": str(m.path), "alt": m.alt} for m in article.media]
    out = []
    targets: list[tuple[str, Any, Any, str | None]] = []
    if campaign is not None:
        for account in campaign.accounts.values():
            resolved = limits.resolve(account, fetch=False) if limits is not None else None
            server = resolved.server if resolved is not None else None
            markdown = server.markdown_renderer if server is not None else None
            targets.append((account.name, platform_for(account, **(resolved.overrides if resolved else {})),
                            campaign.format_options(account.profile), markdown))
    else:
        for profile in default_preview_names():
            targets.append((f"preview-{profile}", get_platform(profile), default_options(profile), None))
    for account_name, platform, options, markdown in targets:
        thread = format_thread(article, platform, options)
        account = campaign.accounts.get(account_name) if campaign else None
        out.append({
            "look": render.look_for(account_name, platform.name, account),
            "cards": render.thread_cards(thread, platform, media, markdown=markdown),
            "thread": thread,
        })
    return out


def media_file(desk: Desk, request: Request, form: dict[str, Any]) -> Response:
    """An image of a thread, only one listed in its media (never any other file)."""
    from starlette.responses import FileResponse

    from bot.store import NoSuchItem

    try:
        item = desk.store.get_item(int(request.path_params["item_id"]))
    except NoSuchItem:
        return _plain(404, "No such thread.")
    n = int(request.path_params["n"])
    if not 0 <= n < len(item.media) or not Path(item.media[n]["path"]).is_file():
        return _plain(404, "No such image.")
    return FileResponse(item.media[n]["path"])


def set_reviewer(desk: Desk, request: Request, form: dict[str, Any]) -> Response:
    name = " ".join(str(form.get("name") or "").split())[:100]
    back = str(form.get("back") or "/week")
    if not back.startswith("/") or back.startswith("//"):
        back = "/week"
    response = RedirectResponse(back, status_code=303)
    if name:
        response.set_cookie(REVIEWER_COOKIE, quote(name), httponly=True, samesite="strict", path="/",
                            max_age=365 * 24 * 3600)
    return response


def resume_account(desk: Desk, request: Request, form: dict[str, Any]) -> Response:
    name = request.path_params["name"]
    desk.store.resume_account(name)
    log.info("desk: account %s resumed by %s", name, request.state.reviewer or "someone")
    return _back("/attention", f"account {name} resumed")


# -- actions on one thread --------------------------------------------------------------------


def thread_action(desk: Desk, request: Request, form: dict[str, Any]) -> Response:
    """approve, reject, edit, join, tag, publish, reschedule, cancel, retry: one store transaction
    each; a refusal re-renders the thread with the message and changes nothing."""
    from bot.editing import EditRefused

    item_id = int(request.path_params["item_id"])
    action = request.path_params["action"]
    reviewer = request.state.reviewer
    if action == "count":
        from bot.store import NoSuchItem

        try:
            item = desk.store.get_item(item_id)
        except NoSuchItem:
            return JSONResponse({"error": f"no thread {item_id}"}, status_code=404)
        return count_json(item, [str(d) for d in (_drafts(form) or [])])
    handler = _ACTIONS.get(action)
    if handler is None:
        return _plain(404, f"Unknown action {action!r}.")
    try:
        version = int(form.get("version", ""))
    except ValueError:
        return thread_page(desk, request, form, status=400, error=["The form has no version: reload the page."])
    try:
        if handler.needs_name and not reviewer:
            raise FormError("Say who you are first (your name, at the top of the page): it is recorded "
                            "with what you do.")
        message = handler.run(desk, item_id, version, form, reviewer)
    except EditRefused as refused:
        drafts = _drafts(form)
        return thread_page(desk, request, form, status=400, error=refused.problems, drafts=drafts, editing=True)
    except FormError as error:
        return thread_page(desk, request, form, status=400, error=[str(error)], drafts=_drafts(form),
                           editing=action == "edit")
    except CrieurError as error:
        from bot.store import EditConflict

        status = 409 if isinstance(error, EditConflict) else 400
        return thread_page(desk, request, form, status=status, error=[str(error)], drafts=_drafts(form),
                           editing=action == "edit")
    log.info("desk: item %d %s by %s", item_id, action, reviewer or "someone")
    return _back(f"/thread/{item_id}", message)


def _drafts(form: dict[str, Any]) -> list[str] | None:
    drafts = [form[k] for k in sorted((k for k in form if k.startswith("post-")), key=lambda k: int(k[5:]))]
    return drafts or None


@dataclass(frozen=True)
class _Action:
    run: Callable[[Desk, int, int, dict[str, Any], str | None], str]
    needs_name: bool = True


def _approve(desk: Desk, item_id: int, version: int, form: dict[str, Any], by: str | None) -> str:
    from bot.approval import approve_item

    item = approve_item(desk.store, item_id, by or "", desk.campaigns, at_once=form.get("now") == "1",
                        expected_version=version)
    return f"approved by {by}; goes out {render.local_time(item.due_at, desk.item_zone(item))}"


def _reject(desk: Desk, item_id: int, version: int, form: dict[str, Any], by: str | None) -> str:
    reason = " ".join(str(form.get("reason") or "").split())
    if not reason:
        raise FormError("Say why you reject it (the reason is kept with the thread).")
    desk.store.reject(item_id, by or "", reason, expected_version=version)
    return f"rejected by {by}: it will not be published"


def _edit(desk: Desk, item_id: int, version: int, form: dict[str, Any], by: str | None) -> str:
    from bot.editing import prepare_edit

    item = _fresh(desk, item_id, version)
    drafts = [form.get(f"post-{p.index}") for p in item.posts]
    texts = prepare_edit(item, [None if d is None else str(d) for d in drafts])
    saved = desk.store.edit_posts(item_id, texts, by=by or "", expected_version=version)
    return _edited(saved)


def _join(desk: Desk, item_id: int, version: int, form: dict[str, Any], by: str | None) -> str:
    from bot.editing import join_posts

    item = _fresh(desk, item_id, version)
    try:
        index = int(form.get("index", ""))
    except ValueError:
        raise FormError("Which post to join with the next one?") from None
    saved = desk.store.edit_posts(item_id, join_posts(item, index), by=by or "", expected_version=version,
                                  what=f"posts {index} and {index + 1} joined")
    return _edited(saved)


def _tag(desk: Desk, item_id: int, version: int, form: dict[str, Any], by: str | None) -> str:
    from bot.editing import add_hashtag, drop_hashtag

    item = _fresh(desk, item_id, version)
    tag = str(form.get("tag") or "")
    if form.get("op") == "drop":
        texts, what = drop_hashtag(item, tag), f"#{tag.lstrip('#')} dropped"
    else:
        texts, what = add_hashtag(item, tag), f"#{tag.lstrip('#')} added"
    saved = desk.store.edit_posts(item_id, texts, by=by or "", expected_version=version, what=what)
    return _edited(saved, what)


def _edited(item: Any, what: str = "saved") -> str:
    again = "; it waits for approval again" if item.state == "awaiting_review" else ""
    return f"{what}: {len(item.posts)} posts{again}"


def _fresh(desk: Desk, item_id: int, version: int) -> Any:
    from bot.store import EditConflict

    item = desk.store.get_item(item_id)
    if item.version != version:
        raise EditConflict(
            f"item {item_id} was changed since you opened it (version {version}, now {item.version}): "
            "nothing was saved; your text is kept below: reload the thread and make your change again"
        )
    return item


def _publish_now(desk: Desk, item_id: int, version: int, form: dict[str, Any], by: str | None) -> str:
    store = desk.store
    item = _fresh(desk, item_id, version)
    now = desk.clock()
    if item.state == "awaiting_review":
        from bot.approval import approve_item

        approve_item(store, item_id, by or "", desk.campaigns, at_once=True, expected_version=version)
        moved = store.get_item(item_id)
        if moved.due_at > now:
            store.reschedule(item_id, now, expected_version=moved.version)
        return f"approved by {by}; goes out now"
    if item.state in ("failed", "needs_review"):
        store.retry(item_id)
        return "scheduled again: goes out now"
    store.reschedule(item_id, now, expected_version=version)
    return "goes out now"


def _reschedule(desk: Desk, item_id: int, version: int, form: dict[str, Any], by: str | None) -> str:
    item = _fresh(desk, item_id, version)
    zone = desk.item_zone(item)
    raw = str(form.get("at") or "").strip()
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        raise FormError(f"{raw or 'an empty time'!r} is not a date and time (e.g. 2026-03-02T09:30)") from None
    at = (local if local.tzinfo else local.replace(tzinfo=zone)).astimezone(timezone.utc)
    if at < desk.clock() - timedelta(minutes=1):
        raise FormError(f"{render.local_time(at, zone)} is in the past: pick a time to come.")
    desk.store.reschedule(item_id, at, expected_version=version)
    return f"rescheduled for {render.local_time(at, zone)}"


def _cancel(desk: Desk, item_id: int, version: int, form: dict[str, Any], by: str | None) -> str:
    _fresh(desk, item_id, version)
    desk.store.cancel(item_id)
    return "cancelled: it will not be published"


def _retry(desk: Desk, item_id: int, version: int, form: dict[str, Any], by: str | None) -> str:
    _fresh(desk, item_id, version)
    desk.store.retry(item_id)
    return "scheduled again, due now"


_ACTIONS: dict[str, _Action] = {
    "approve": _Action(_approve),
    "reject": _Action(_reject),
    "edit": _Action(_edit),
    "join": _Action(_join),
    "tag": _Action(_tag),
    "publish": _Action(_publish_now),
    "reschedule": _Action(_reschedule),
    "cancel": _Action(_cancel),
    "retry": _Action(_retry, needs_name=False),
}


def count_json(item: Any, texts: list[str]) -> JSONResponse:
    """Counts of draft texts, by the item's platform counter (for the editor's live counter)."""
    from bot.editing import content_warning, count_post, counter_for

    platform = counter_for(item)
    cw = content_warning(item, platform)
    from bot.editing import SPLIT_LINE

    out = []
    for text in texts:
        pieces = [p.strip() for p in SPLIT_LINE.split(text.replace("\r\n", "\n")) if p.strip()] or [""]
        counts = [count_post(platform, p, cw) for p in pieces]
        out.append({"label": " + ".join(c.label for c in counts), "fits": all(c.fits for c in counts)})
    return JSONResponse(out)
