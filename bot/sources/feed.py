"""`FeedSource`: the entries of an RSS or Atom feed, fetched politely and remembered once yielded."""

from __future__ import annotations

import calendar
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import feedparser
import requests
import urllib3

from bot import __version__
from bot.article import Article
from bot.errors import BadInput
from bot.sources.base import PollResult, SeenStore, SourceArticle, SourceError, logger
from bot.sources.htmltext import html_to_paragraphs, text_to_paragraphs

#: A feed larger than this is refused: no news feed is, and we read it into memory.
MAX_FEED_BYTES = 10 * 1024 * 1024

_ACCEPT = ("application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
           "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
_KEPT_HEADERS = ("content-type", "content-language", "etag", "last-modified")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_LANG = re.compile(r"[A-Za-z]{2,3}\b")


class FeedSource:
    """An RSS/Atom feed whose new entries become articles.

    The first poll marks the entries already in the feed as seen and yields none of them,
    except the newest `backfill` ones; later polls yield the entries not seen before, oldest
    first, and mark exactly those. Requests carry the ETag and Last-Modified of the previous
    response (a 304 yields nothing), a `crieur/<version>` User-Agent, and `timeout` seconds
    (per connect and per read, as requests counts it).

    An entry becomes an `Article`: its title, its link as `url`, its content (else summary)
    as plain-text paragraphs, its tags as `keywords`, its language (xml:lang, else the feed's
    language, else `default_lang`; primary subtag, lower-case). Its identity is its id, else
    its link.
    """

    def __init__(self, url: str, campaign: str, store: SeenStore, backfill: int = 0,
                 timeout: float = 10.0, user_agent: str | None = None) -> None:
        """:raises BadInput: `url` is not an http(s) URL, or `backfill` is negative."""
        url = str(url)  # also takes pydantic's HttpUrl, which the campaign model holds
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise BadInput(f"sources.feed: {redact_url(url)!r} is not an http(s) URL")
        if backfill < 0:
            raise BadInput(f"sources.backfill: must be 0 or more, not {backfill}")
        self.url = url
        self.campaign = campaign
        self.store = store
        self.backfill = backfill
        self.timeout = timeout
        self.user_agent = user_agent or f"crieur/{__version__}"
        self.source_key = "feed:" + url

    def poll(self, default_lang: str | None = None, *, commit: bool = True) -> PollResult:
        """Fetch the feed and return its new entries as articles, oldest first.

        :param commit: record the seen entries and the ETag/Last-Modified in the store; with
            False, nothing is written and `PollResult.commit()` does it later.
        :raises SourceError: network error, timeout, HTTP error status, a body that is not a
            feed (bozo without entries), or a body over `MAX_FEED_BYTES`. The message names the
            URL (credentials and query redacted) and the reason.
        """
        state = self.store.source_state(self.campaign, self.source_key)
        first_poll = not state.get("initialized")
        response = self._fetch(state)
        if response is None:
            return PollResult()  # 304 Not Modified: nothing new, nothing to record
        body, headers = response

        parsed = feedparser.parse(body, response_headers=headers)
        if parsed.bozo and not parsed.entries:
            raise SourceError(redact_url(self.url),
                              f"not a valid RSS/Atom feed ({_short(parsed.get('bozo_exception'))})")
        if parsed.bozo:
            logger.warning("feed %s: malformed, reading it anyway (%s)",
                           redact_url(self.url), _short(parsed.get("bozo_exception")))

        entries = _identified(_oldest_first(parsed.entries), redact_url(self.url))
        if first_poll:
            chosen = entries[len(entries) - self.backfill:] if self.backfill else []
            to_mark = [entry_id for entry_id, _ in entries]
        else:
            chosen = [(i, e) for i, e in entries if not self.store.seen(self.campaign, self.source_key, i)]
            to_mark = [entry_id for entry_id, _ in chosen]

        feed_lang = parsed.feed.get("language")
        articles = []
        for entry_id, entry in chosen:
            article = entry_to_article(entry, feed_lang=feed_lang, default_lang=default_lang)
            if article is None:
                # Still marked: an empty entry would otherwise be warned about on every poll.
                logger.warning("feed %s: entry %s has neither title nor text; skipped",
                               redact_url(self.url), entry_id)
                continue
            articles.append(SourceArticle(entry_id, article))

        new_state: dict[str, Any] = {
            **state,
            "initialized": True,
            "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified"),
        }

        def record() -> None:
            # Seen ids before the ETag: if we die in between, the next poll fetches the full
            # feed again and finds these seen; the other order would answer 304 and lose them.
            if to_mark:
                self.store.mark_seen(self.campaign, self.source_key, to_mark)
            self.store.set_source_state(self.campaign, self.source_key, new_state)

        result = PollResult(articles, (), record)
        if commit:
            result.commit()
        return result

    def _fetch(self, state: dict[str, Any]) -> tuple[bytes, dict[str, str]] | None:
        """GET the feed: (body, the lower-cased headers feedparser needs), or None on 304."""
        where = redact_url(self.url)
        headers = {"User-Agent": self.user_agent, "Accept": _ACCEPT}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        try:
            with requests.get(self.url, headers=headers, timeout=self.timeout, stream=True) as resp:
                if resp.status_code == 304:
                    return None
                if resp.status_code >= 400:
                    raise SourceError(where, f"HTTP {resp.status_code} {resp.reason or ''}".rstrip())
                chunks, size = [], 0
                for chunk in resp.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > MAX_FEED_BYTES:
                        raise SourceError(where, f"feed larger than {MAX_FEED_BYTES // (1024 * 1024)} MiB")
                    chunks.append(chunk)
                # Only what feedparser should know: requests has already undone any
                # Content-Encoding, so passing that header on would make feedparser gunzip again.
                response_headers = {k: resp.headers[k] for k in _KEPT_HEADERS if k in resp.headers}
                # feedparser resolves relative links against content-location: the final URL.
                response_headers["content-location"] = resp.url
                return b"".join(chunks), response_headers
        except requests.RequestException as exc:
            raise SourceError(where, _network_reason(exc, self.timeout)) from None


def entry_to_article(entry: Any, *, feed_lang: str | None = None,
                     default_lang: str | None = None) -> Article | None:
    """The `Article` for one feedparser entry, or None when it has neither title nor text.

    An entry without text becomes a one-paragraph article of its title.
    """
    title = _plain_title(entry)
    text = _best_text(entry)
    paragraphs = text if text else ((title,) if title else ())
    if not paragraphs:
        return None
    keywords: list[str] = []
    for tag in entry.get("tags") or ():
        term = (tag.get("label") or tag.get("term") or "").strip()
        if term and term not in keywords:
            keywords.append(term)
    detail = (entry.get("content") or [None])[0] or entry.get("summary_detail") or {}
    lang = _primary_lang(detail.get("language")) or _primary_lang(feed_lang) or default_lang
    link = entry.get("link") or None
    # Any visible change (title, link, text, tags) makes a new version for the queue.
    digest = hashlib.sha256("\x1f".join([title or "", link or "", "\n\n".join(paragraphs),
                                         ",".join(keywords)]).encode("utf-8", "surrogatepass"))
    return Article(
        paragraphs=paragraphs,
        keywords=tuple(keywords),
        title=title,
        url=link,
        lang=lang,
        content_hash=digest.hexdigest(),
    )


def redact_url(url: str) -> str:
    """`url` fit for messages and logs: without user info, and with `?…` for any query.

    Private feeds carry tokens in the query string or as user:password.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "…" if parts.query else "", ""))


def _identified(entries: list[Any], where: str) -> list[tuple[str, Any]]:
    """(identity, entry) pairs; entries without id or link are dropped, duplicates kept once."""
    out: dict[str, Any] = {}
    for entry in entries:
        entry_id = entry.get("id") or entry.get("link")
        if not entry_id:
            logger.warning("feed %s: an entry has no id and no link; skipped", where)
            continue
        out[entry_id] = entry  # a later duplicate (newer, in oldest-first order) wins
    return list(out.items())


def _oldest_first(entries: list[Any]) -> list[Any]:
    """Entries sorted oldest first: by date when every entry has one, else by reversed feed order.

    Feeds list newest first by convention; a date on every entry is the stronger evidence.
    """
    newest_first = list(entries)
    dates = [e.get("published_parsed") or e.get("updated_parsed") for e in newest_first]
    oldest_first = list(reversed(newest_first))
    if dates and all(dates):
        order = {id(e): i for i, e in enumerate(oldest_first)}
        oldest_first.sort(key=lambda e: (
            calendar.timegm(e.get("published_parsed") or e.get("updated_parsed")), order[id(e)]))
    return oldest_first


def _plain_title(entry: Any) -> str | None:
    title = entry.get("title") or ""
    if (entry.get("title_detail") or {}).get("type") in _HTML_TYPES:
        title = " ".join(html_to_paragraphs(title))
    else:
        title = " ".join(title.split())
    return title or None


def _best_text(entry: Any) -> tuple[str, ...]:
    """The entry's full content if it has some, else its summary, as paragraphs."""
    candidates = [*(entry.get("content") or ()), entry.get("summary_detail")]
    for detail in candidates:
        if not detail or not (detail.get("value") or "").strip():
            continue
        if detail.get("type") in _HTML_TYPES:
            paragraphs = html_to_paragraphs(detail["value"])
        else:
            paragraphs = text_to_paragraphs(detail["value"])
        if paragraphs:
            return paragraphs
    return ()


def _primary_lang(tag: str | None) -> str | None:
    """`fr` for `fr-FR`, `fr_CA` or `FR`; None for no tag or a malformed one."""
    match = _LANG.match(tag.strip()) if tag else None
    return match.group(0).lower() if match else None


def _network_reason(exc: BaseException, timeout: float) -> str:
    """A one-line reason for a requests failure, without the URL (which may hold secrets)."""
    causes = _causes(exc)
    # Not urllib3's TimeoutError: its NewConnectionError (a refused connection) subclasses it.
    # A read timeout while streaming the body arrives as a ConnectionError around ReadTimeoutError.
    if any(isinstance(e, (requests.Timeout, TimeoutError, urllib3.exceptions.ReadTimeoutError)) for e in causes):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "too many redirects"
    # The deepest OS error says it best ("Connection refused", "Name or service not known").
    detail = next((e.strerror for e in reversed(causes) if isinstance(e, OSError) and e.strerror),
                  type(causes[-1]).__name__)
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error ({detail})"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect ({detail})"
    return f"request failed ({detail})"


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception it wraps (urllib3 nests them in args, `reason` and causes)."""
    found: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is known for known in found):
            continue
        found.append(current)
        nested = (getattr(current, "reason", None), *current.args, current.__cause__, current.__context__)
        todo.extend(e for e in nested if isinstance(e, BaseException))
    return found


def _short(exc: Any) -> str:
    text = " ".join(str(exc).split()) if exc else "unknown error"
    return text if len(text) <= 120 else text[:117] + "..."
