"""Article sources: explicit files, the folder inbox, RSS/Atom feeds served from 127.0.0.1."""

from __future__ import annotations

import gzip
import logging
import os
import socket
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from feedserver import FeedServer, Route, atom, rss

from bot.errors import BadInput, CrieurError
from bot.sources import (
    FeedSource, FileSource, FolderInbox, PollResult, SeenStore, SourceArticle, SourceError,
    campaign_articles, path_identity,
)
from bot.sources.feed import redact_url
from bot.sources.htmltext import html_to_paragraphs

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
OLD = NOW - timedelta(minutes=5)


class MemorySeenStore:
    """An in-memory double of the store's seen-set interface, counting writes."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], set[str]] = {}
        self.states: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0

    def seen(self, campaign: str, source_key: str, entry_id: str) -> bool:
        return entry_id in self.ids.get((campaign, source_key), set())

    def mark_seen(self, campaign: str, source_key: str, entry_ids: Iterable[str]) -> None:
        self.writes += 1
        self.ids.setdefault((campaign, source_key), set()).update(entry_ids)

    def source_state(self, campaign: str, source_key: str) -> dict[str, Any]:
        return dict(self.states.get((campaign, source_key), {}))

    def set_source_state(self, campaign: str, source_key: str, state: dict[str, Any]) -> None:
        self.writes += 1
        self.states[(campaign, source_key)] = dict(state)


@pytest.fixture
def store() -> MemorySeenStore:
    return MemorySeenStore()


def write(path: Path, text: str, mtime: datetime = OLD) -> Path:
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def article_text(body: str) -> str:
    return f"{body}\n\nSecond paragraph.\n\n#Tag\n"


def test_memory_store_satisfies_the_protocol(store: MemorySeenStore) -> None:
    assert isinstance(store, SeenStore)


# --- FileSource -------------------------------------------------------------------------------


def test_files_are_globbed_relative_to_base_dir_sorted_and_deduplicated(tmp_path: Path) -> None:
    (tmp_path / "articles" / "sub").mkdir(parents=True)
    write(tmp_path / "articles" / "b.txt", article_text("Bee."))
    write(tmp_path / "articles" / "a.txt", article_text("Ay."))
    write(tmp_path / "articles" / ".hidden.txt", article_text("Hidden."))
    write(tmp_path / "articles" / "sub" / "c.txt", article_text("Sea."))
    source = FileSource(["articles/*.txt", "articles/a.txt", "articles/**/*.txt"], tmp_path)

    got = source.articles(default_lang="fr")

    names = [Path(item.source).name for item in got]
    assert names == ["a.txt", "b.txt", "c.txt"]
    assert [item.source for item in got] == sorted(item.source for item in got)
    assert got[0].source == path_identity(tmp_path / "articles" / "a.txt")
    assert got[0].article.paragraphs[0] == "Ay."
    assert got[0].article.lang == "fr"


def test_a_missing_named_file_is_bad_input_but_an_empty_glob_is_not(tmp_path: Path) -> None:
    assert FileSource(["nothing/*.txt"], tmp_path).articles() == []
    with pytest.raises(BadInput, match="missing.txt"):
        FileSource(["missing.txt"], tmp_path).articles()


def test_a_bad_named_file_raises_bad_input_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", article_text("Fine."))
    (tmp_path / "broken.txt").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(BadInput, match="broken.txt"):
        FileSource(["*.txt"], tmp_path).articles()


# --- FolderInbox ------------------------------------------------------------------------------


def inbox(tmp_path: Path, store: SeenStore, campaign: str = "camp") -> FolderInbox:
    return FolderInbox(tmp_path / "inbox", campaign, store, settle=timedelta(seconds=2))


def names(items: list[SourceArticle]) -> list[str]:
    return [Path(item.source).name for item in items]


def test_inbox_skips_dotfiles_temp_files_media_and_subdirectories(tmp_path: Path, store: MemorySeenStore) -> None:
    folder = tmp_path / "inbox"
    (folder / "subdir").mkdir(parents=True)
    write(folder / "subdir" / "nested.txt", article_text("Nested."))
    for name in [".hidden.txt", "draft.txt~", "draft.tmp", "upload.part", ".draft.txt.swp",
                 "notes.swp", "#autosave#", "photo.jpg", "clip.MP4"]:
        write(folder / name, article_text("Skip me."))
    write(folder / "real.txt", article_text("Real."))
    source = inbox(tmp_path, store)

    assert source.poll(now=NOW) == []  # first sighting: not settled yet
    got = source.poll(now=NOW)

    assert names(got) == ["real.txt"]
    assert got.errors == []


def test_inbox_waits_until_size_and_mtime_are_unchanged_between_two_polls(tmp_path: Path,
                                                                           store: MemorySeenStore) -> None:
    (tmp_path / "inbox").mkdir()
    path = write(tmp_path / "inbox" / "growing.txt", "Half an art", mtime=OLD)
    source = inbox(tmp_path, store)
    assert source.poll(now=NOW) == []

    write(path, article_text("Half an article, now complete."), mtime=OLD)  # size changed, mtime kept
    assert source.poll(now=NOW) == []

    write(path, article_text("Half an article, now complete."), mtime=OLD + timedelta(seconds=1))  # mtime changed
    assert source.poll(now=NOW) == []

    got = source.poll(now=NOW)  # unchanged since the previous poll, and old enough
    assert names(got) == ["growing.txt"]
    assert got[0].article.paragraphs[0] == "Half an article, now complete."
    assert "growing.txt" in store.source_state("camp", source.source_key)["taken"]


def test_inbox_waits_until_the_mtime_is_older_than_settle(tmp_path: Path, store: MemorySeenStore) -> None:
    (tmp_path / "inbox").mkdir()
    write(tmp_path / "inbox" / "fresh.txt", article_text("Fresh."), mtime=NOW - timedelta(seconds=1))
    source = inbox(tmp_path, store)

    assert source.poll(now=NOW) == []
    assert source.poll(now=NOW + timedelta(milliseconds=500)) == []  # unchanged but only 1.5 s old
    assert names(source.poll(now=NOW + timedelta(seconds=1))) == ["fresh.txt"]


def test_inbox_remembers_across_instances_and_never_moves_or_deletes(tmp_path: Path,
                                                                    store: MemorySeenStore) -> None:
    (tmp_path / "inbox").mkdir()
    path = write(tmp_path / "inbox" / "one.txt", article_text("One."))
    before = path.read_bytes()
    first = inbox(tmp_path, store)
    first.poll(now=NOW)
    assert names(first.poll(now=NOW)) == ["one.txt"]

    later = inbox(tmp_path, store)  # a new process, the same store
    assert later.poll(now=NOW) == []
    assert later.poll(now=NOW + timedelta(hours=1)) == []

    other_campaign = inbox(tmp_path, store, campaign="other")  # seen-sets are per campaign
    other_campaign.poll(now=NOW)
    assert names(other_campaign.poll(now=NOW)) == ["one.txt"]

    assert sorted(p.name for p in (tmp_path / "inbox").iterdir()) == ["one.txt"]
    assert path.read_bytes() == before


def test_an_edited_file_comes_again_a_touched_one_does_not(tmp_path: Path, store: MemorySeenStore) -> None:
    (tmp_path / "inbox").mkdir()
    path = write(tmp_path / "inbox" / "story.txt", article_text("Version one."))
    source = inbox(tmp_path, store)
    source.poll(now=NOW)
    first = source.poll(now=NOW)
    assert names(first) == ["story.txt"]

    write(path, path.read_text(encoding="utf-8"), mtime=OLD + timedelta(seconds=30))  # touched only
    source.poll(now=NOW)
    assert source.poll(now=NOW) == []

    write(path, article_text("Version two, corrected."), mtime=OLD + timedelta(seconds=60))
    source.poll(now=NOW)
    again = source.poll(now=NOW)
    assert names(again) == ["story.txt"]
    assert again[0].source == first[0].source  # same identity: the queue re-formats in place
    assert again[0].article.content_hash != first[0].article.content_hash


def test_a_bad_file_is_reported_once_and_does_not_block_the_others(tmp_path: Path, store: MemorySeenStore,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "inbox").mkdir()
    bad = write(tmp_path / "inbox" / "a-bad.txt", "\n\n   \n")  # empty body
    write(tmp_path / "inbox" / "b-good.txt", article_text("Good."))
    source = inbox(tmp_path, store)
    source.poll(now=NOW)

    with caplog.at_level(logging.WARNING, logger="bot.sources"):
        got = source.poll(now=NOW)

    assert names(got) == ["b-good.txt"]
    assert len(got.errors) == 1 and isinstance(got.errors[0], BadInput)
    assert "a-bad.txt" in str(got.errors[0])
    assert "a-bad.txt" in caplog.text

    again = source.poll(now=NOW + timedelta(minutes=1))
    assert again == [] and again.errors == []  # not retried while unchanged

    write(bad, article_text("Fixed."), mtime=OLD + timedelta(seconds=10))
    source.poll(now=NOW)
    fixed = source.poll(now=NOW)
    assert names(fixed) == ["a-bad.txt"] and fixed.errors == []


def test_commit_false_writes_nothing_until_commit(tmp_path: Path, store: MemorySeenStore) -> None:
    (tmp_path / "inbox").mkdir()
    write(tmp_path / "inbox" / "x.txt", article_text("X."))
    source = inbox(tmp_path, store)
    source.poll(now=NOW)  # records the size
    writes = store.writes

    dry = source.poll(now=NOW, commit=False)
    assert names(dry) == ["x.txt"] and store.writes == writes
    assert names(source.poll(now=NOW, commit=False)) == ["x.txt"]  # still new: nothing was recorded

    dry.commit()
    dry.commit()  # idempotent
    assert source.poll(now=NOW) == []


def test_a_missing_inbox_is_bad_input(tmp_path: Path, store: MemorySeenStore) -> None:
    with pytest.raises(BadInput, match="inbox folder does not exist"):
        inbox(tmp_path, store).poll(now=NOW)


def test_vanished_files_leave_the_state(tmp_path: Path, store: MemorySeenStore) -> None:
    (tmp_path / "inbox").mkdir()
    path = write(tmp_path / "inbox" / "gone.txt", article_text("Gone."))
    source = inbox(tmp_path, store)
    source.poll(now=NOW)
    path.unlink()
    source.poll(now=NOW)
    assert store.source_state("camp", source.source_key) == {"pending": {}, "taken": {}}


# --- HTML to text -----------------------------------------------------------------------------


def test_html_becomes_plain_paragraphs() -> None:
    html = ("<p>Kyiv &amp; Kharkiv: <b>strikes</b> at&nbsp;dawn &eacute;t&#233; &#8217;</p>"
            "<p>Second<br>third<br/><br />fourth</p><script>alert('x')</script>"
            "<ul><li>one</li><li>two</li></ul>Tail   text\n with  spaces<style>p{}</style>"
            '<p>An <img src="x.png" alt="🇺🇦"> flag</p><p>&nbsp;</p>')  # spacer paragraph dropped
    assert html_to_paragraphs(html) == (
        "Kyiv & Kharkiv: strikes at\u00a0dawn été ’",
        "Second", "third", "fourth", "one", "two", "Tail text with spaces", "An 🇺🇦 flag",
    )


# --- FeedSource -------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def rss_item(n: int, day: int | None = None) -> dict[str, str]:
    item = {"guid": f"urn:item:{n}", "link": f"https://news.example/{n}", "title": f"Story {n}",
            "description": f"<p>Body of story {n}.</p>"}
    if day is not None:
        item["pubDate"] = f"{['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][(day - 2) % 7]}, " \
                          f"{day:02d} Mar 2026 08:00:00 +0000"
    return item


def feed(server: FeedServer, store: SeenStore, **kwargs: Any) -> FeedSource:
    return FeedSource(server.url(), "camp", store, timeout=kwargs.pop("timeout", 5.0), **kwargs)


def test_first_poll_marks_everything_seen_then_new_entries_come_once(server: FeedServer,
                                                                      store: MemorySeenStore) -> None:
    server.routes["/feed.xml"] = Route(rss([rss_item(2), rss_item(1)]))
    source = feed(server, store)

    assert source.poll() == []
    assert source.poll() == []

    server.routes["/feed.xml"] = Route(rss([rss_item(4), rss_item(3), rss_item(2), rss_item(1)]))
    got = FeedSource(server.url(), "camp", store).poll()  # a new instance: the store remembers
    assert [item.source for item in got] == ["urn:item:3", "urn:item:4"]  # oldest first
    assert got[0].article.title == "Story 3"
    assert got[0].article.url == "https://news.example/3"
    assert got[0].article.paragraphs == ("Body of story 3.",)
    assert got[0].article.lang == "fr"
    assert got[0].article.content_hash

    assert source.poll() == []
    assert server.requests[0].headers["user-agent"].startswith("crieur/")


def test_backfill_returns_the_newest_n_oldest_first(server: FeedServer, store: MemorySeenStore) -> None:
    # Feed order is not date order here: the dates decide.
    server.routes["/feed.xml"] = Route(rss([rss_item(3, day=3), rss_item(1, day=1), rss_item(4, day=4),
                                            rss_item(2, day=2)]))
    got = feed(server, store, backfill=2).poll()
    assert [item.source for item in got] == ["urn:item:3", "urn:item:4"]
    assert feed(server, store, backfill=2).poll() == []  # backfill is for the first poll only


def test_backfill_larger_than_the_feed_returns_all(server: FeedServer, store: MemorySeenStore) -> None:
    server.routes["/feed.xml"] = Route(rss([rss_item(2), rss_item(1)]))
    assert [i.source for i in feed(server, store, backfill=10).poll()] == ["urn:item:1", "urn:item:2"]


def test_etag_and_last_modified_are_sent_and_304_yields_nothing(server: FeedServer,
                                                                 store: MemorySeenStore) -> None:
    lm = "Mon, 02 Mar 2026 08:00:00 GMT"
    server.routes["/feed.xml"] = Route(rss([rss_item(1)]), etag='"v1"', last_modified=lm)
    source = feed(server, store)
    source.poll()
    assert "if-none-match" not in server.requests[0].headers

    assert source.poll() == []
    assert server.requests[1].headers["if-none-match"] == '"v1"'
    assert server.requests[1].headers["if-modified-since"] == lm

    # A new version: 200 with a new ETag, the new entry, and the new ETag used next time.
    server.routes["/feed.xml"] = Route(rss([rss_item(2), rss_item(1)]), etag='"v2"')
    assert [i.source for i in source.poll()] == ["urn:item:2"]
    source.poll()
    assert server.requests[-1].headers["if-none-match"] == '"v2"'
    assert "if-modified-since" not in server.requests[-1].headers  # the 200 had none


def test_rss_html_content_becomes_text_and_categories_keywords(server: FeedServer,
                                                                store: MemorySeenStore) -> None:
    server.routes["/feed.xml"] = Route(rss([]))
    source = feed(server, store)
    source.poll()
    server.routes["/feed.xml"] = Route(rss([{
        "guid": "g1", "link": "https://news.example/a", "title": "Front &amp; back",
        "description": "<p>Short teaser</p>",
        "content": "<p>First &laquo;&nbsp;para&nbsp;&raquo;.</p><p>Second<br/>line.</p><script>x()</script>",
        "category": "Ukraine",
    }], language="fr-FR"))

    [item] = source.poll()

    assert item.article.title == "Front & back"
    assert item.article.paragraphs == ("First «\u00a0para\u00a0».", "Second", "line.")  # content over summary
    assert item.article.keywords == ("Ukraine",)
    assert item.article.lang == "fr"


def test_atom_entries_language_and_ids(server: FeedServer, store: MemorySeenStore) -> None:
    server.routes["/atom.xml"] = Route(atom([]), content_type="application/atom+xml")
    source = FeedSource(server.url("/atom.xml"), "camp", store)
    source.poll()
    server.routes["/atom.xml"] = Route(atom([
        {"id": "urn:e:2", "title": "Two", "link": "https://news.example/2", "updated": "2026-03-02T10:00:00Z",
         "summary": "Plain summary two.", "categories": "war,europe"},
        {"id": "urn:e:1", "title": "One", "link": "https://news.example/1", "updated": "2026-03-01T10:00:00Z",
         "content": "<p>Para <em>one</em>.</p><p>Para two.</p>"},
    ], lang="en-GB"), content_type="application/atom+xml")

    got = source.poll(default_lang="fr")

    assert [i.source for i in got] == ["urn:e:1", "urn:e:2"]
    assert got[0].article.paragraphs == ("Para one.", "Para two.")
    assert got[1].article.paragraphs == ("Plain summary two.",)
    assert got[1].article.keywords == ("war", "europe")
    assert got[0].article.lang == "en"
    assert got[0].article.url == "https://news.example/1"


def test_entries_without_id_use_the_link_and_without_text_use_the_title(server: FeedServer,
                                                                        store: MemorySeenStore) -> None:
    server.routes["/feed.xml"] = Route(rss([], language=None))
    source = feed(server, store)
    source.poll(default_lang="de")
    server.routes["/feed.xml"] = Route(rss([{"link": "https://news.example/x", "title": "Only a title"}],
                                           language=None))
    [item] = source.poll(default_lang="de")
    assert item.source == "https://news.example/x"
    assert item.article.paragraphs == ("Only a title",)
    assert item.article.lang == "de"


def test_gzip_and_declared_charsets_are_decoded(server: FeedServer, store: MemorySeenStore) -> None:
    body = rss([{"guid": "g", "title": "Été", "description": "<p>Déjà vu.</p>"}])
    latin1 = body.replace(b'encoding="utf-8"', b'encoding="iso-8859-1"').decode("utf-8").encode("latin-1")
    server.routes["/gz.xml"] = Route(gzip.compress(body), headers={"Content-Encoding": "gzip"})
    server.routes["/latin1.xml"] = Route(latin1, content_type="application/rss+xml; charset=iso-8859-1")
    for path in ("/gz.xml", "/latin1.xml"):
        [item] = FeedSource(server.url(path), "camp", store, backfill=1).poll()
        assert (item.article.title, item.article.paragraphs) == ("Été", ("Déjà vu.",))


def test_feed_commit_false_writes_nothing(server: FeedServer, store: MemorySeenStore) -> None:
    server.routes["/feed.xml"] = Route(rss([rss_item(1)]), etag='"e"')
    source = feed(server, store, backfill=1)
    dry = source.poll(commit=False)
    assert [i.source for i in dry] == ["urn:item:1"] and store.writes == 0
    assert [i.source for i in source.poll(commit=False)] == ["urn:item:1"]
    assert "if-none-match" not in server.requests[-1].headers
    dry.commit()
    assert source.poll() == []


def test_timeout_is_a_source_error(server: FeedServer, store: MemorySeenStore) -> None:
    server.routes["/feed.xml"] = Route(rss([rss_item(1)]), delay=3.0)
    with pytest.raises(SourceError, match=r"feed\.xml: timed out after 0\.3s") as caught:
        feed(server, store, timeout=0.3).poll()
    assert isinstance(caught.value, CrieurError) and caught.value.exit_code == 1
    assert store.writes == 0


@pytest.mark.parametrize("status", [500, 503, 404])
def test_http_errors_are_source_errors(server: FeedServer, store: MemorySeenStore, status: int) -> None:
    server.routes["/feed.xml"] = Route(b"oops", status=status, content_type="text/plain")
    with pytest.raises(SourceError, match=f"HTTP {status}"):
        feed(server, store).poll()
    assert store.writes == 0


def test_connection_refused_is_a_source_error(store: MemorySeenStore) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceError, match="cannot connect") as caught:
        FeedSource(f"http://127.0.0.1:{port}/feed.xml?token=s3cret", "camp", store, timeout=2).poll()
    assert "s3cret" not in str(caught.value)
    assert f"127.0.0.1:{port}/feed.xml" in str(caught.value)


def test_a_page_that_is_not_a_feed_is_a_source_error(server: FeedServer, store: MemorySeenStore) -> None:
    server.routes["/feed.xml"] = Route(b"<html><body><p>Not a feed <b>unclosed", content_type="text/html")
    with pytest.raises(SourceError, match="not a valid RSS/Atom feed"):
        feed(server, store).poll()


def test_feed_urls_must_be_http_and_secrets_stay_out_of_messages(store: MemorySeenStore) -> None:
    with pytest.raises(BadInput, match="not an http"):
        FeedSource("file:///etc/passwd", "camp", store)
    with pytest.raises(BadInput, match="backfill"):
        FeedSource("https://news.example/feed", "camp", store, backfill=-1)
    assert redact_url("https://user:pw@news.example:8443/f.xml?key=abc") == "https://news.example:8443/f.xml?…"


# --- campaign_articles ------------------------------------------------------------------------


def test_campaign_articles_combines_sources_and_keeps_going_when_the_feed_fails(
        tmp_path: Path, store: MemorySeenStore, server: FeedServer) -> None:
    (tmp_path / "inbox").mkdir()
    write(tmp_path / "a.txt", article_text("Named file."))
    write(tmp_path / "inbox" / "dropped.txt", article_text("Dropped."))
    server.routes["/feed.xml"] = Route(rss([rss_item(2), rss_item(1)]))
    campaign = SimpleNamespace(name="camp", lang="fr", path=tmp_path / "campaign.yaml", sources=SimpleNamespace(
        files=["*.txt"], folder="inbox", feed=server.url(), backfill=1))

    first = campaign_articles(campaign, store, now=NOW)
    assert [Path(i.source).name for i in first] == ["a.txt", "urn:item:2"]  # inbox file not settled yet

    second = campaign_articles(campaign, store, now=NOW, commit=False)
    assert [Path(i.source).name for i in second] == ["a.txt", "dropped.txt"]
    second.commit()

    server.routes["/feed.xml"] = Route(b"down", status=502)
    third = campaign_articles(campaign, store, now=NOW)
    assert [Path(i.source).name for i in third] == ["a.txt"]
    assert len(third.errors) == 1 and isinstance(third.errors[0], SourceError)
    assert isinstance(third, PollResult)


def test_campaign_articles_reads_a_real_campaign_file(tmp_path: Path, store: MemorySeenStore,
                                                     server: FeedServer) -> None:
    campaign_module = pytest.importorskip("bot.campaign")
    (tmp_path / "inbox").mkdir()
    write(tmp_path / "named.txt", article_text("Named."))
    write(tmp_path / "inbox" / "dropped.txt", article_text("Dropped."))
    server.routes["/feed.xml"] = Route(rss([rss_item(2), rss_item(1)]))
    path = tmp_path / "campaign.yaml"
    path.write_text(f"""name: test-camp
timezone: Europe/Paris
lang: fr
accounts:
  desk-dry:
    platform: dryrun
sources:
  files: ["*.txt"]
  folder: inbox/
  feed: {{url: "{server.url()}", backfill: 1, timeout: 5}}
schedule:
  slots: ["30 8 * * *"]
""", encoding="utf-8")
    campaign = campaign_module.load_campaign(path)

    assert [Path(i.source).name for i in campaign_articles(campaign, store, now=NOW)] == ["named.txt", "urn:item:2"]
    got = campaign_articles(campaign, store, now=NOW)
    assert [Path(i.source).name for i in got] == ["named.txt", "dropped.txt"]
    assert all(i.article.lang == "fr" for i in got)


# --- against the real store -------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_folder_and_feed_against_the_real_store(tmp_path: Path, server: FeedServer, backend: str) -> None:
    store_module = pytest.importorskip("bot.store")
    if backend == "sqlite":
        url = "sqlite:///" + str(tmp_path / "q.db")
    else:
        url = os.environ.get("CRIEUR_TEST_DATABASE_URL", "")
        if not url:
            pytest.skip("PostgreSQL store tests need CRIEUR_TEST_DATABASE_URL")
    campaign = f"camp-{uuid.uuid4().hex[:12]}"  # one shared PostgreSQL database: never see another run
    if backend != "sqlite":  # a schema of its own: the shared database may hold anything
        from bot.testing import postgres_schema

        with postgres_schema(url, "crieur_src") as schema_url:
            _folder_and_feed(tmp_path, server, store_module, schema_url, campaign)
        return
    _folder_and_feed(tmp_path, server, store_module, url, campaign)


def _folder_and_feed(tmp_path: Path, server: FeedServer, store_module: Any, url: str, campaign: str) -> None:
    real = store_module.open_store(url)
    try:
        assert isinstance(real, SeenStore)
        (tmp_path / "inbox").mkdir()
        write(tmp_path / "inbox" / "one.txt", article_text("One."))
        source = FolderInbox(tmp_path / "inbox", campaign, real)
        source.poll(now=NOW)
        assert names(source.poll(now=NOW)) == ["one.txt"]
        assert FolderInbox(tmp_path / "inbox", campaign, real).poll(now=NOW) == []

        server.routes["/feed.xml"] = Route(rss([rss_item(1)]), etag='"v1"')
        assert FeedSource(server.url(), campaign, real).poll() == []
        assert FeedSource(server.url(), campaign, real).poll() == []
        assert server.requests[-1].headers["if-none-match"] == '"v1"'
        server.routes["/feed.xml"] = Route(rss([rss_item(2), rss_item(1)]), etag='"v2"')
        assert [i.source for i in FeedSource(server.url(), campaign, real).poll()] == ["urn:item:2"]
        assert FeedSource(server.url(), campaign, real).poll() == []
    finally:
        real.close()
