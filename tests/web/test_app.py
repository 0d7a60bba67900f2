"""The desk's rules over HTTP (Starlette's TestClient, real store): gate, CSRF, refusals that change nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from desk_helpers import DeskFiles
from starlette.testclient import TestClient

from bot.approval import load_campaigns_quietly
from bot.cli import main
from bot.store import ItemState, open_store
from bot.testing import postgres_schema
from bot.web.app import Desk, create_app

TOKEN = "a-long-enough-desk-token-123"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_db(request: pytest.FixtureRequest, desk_files: DeskFiles) -> Iterator[str]:
    """The desk's store: the test's SQLite file, or a fresh PostgreSQL schema (the daemon's choices)."""
    if request.param == "sqlite":
        yield str(desk_files.db)
        return
    base = os.environ.get("CRIEUR_TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL tests need CRIEUR_TEST_DATABASE_URL")
    with postgres_schema(base, "crieur_desk") as url:
        yield url


@pytest.fixture
def desk(desk_files: DeskFiles, store_db: str, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Desk]:
    monkeypatch.chdir(desk_files.root)
    desk_files.db_url = store_db
    assert main(["enqueue", str(desk_files.campaign), "articles/harbour.txt", "articles/bridge.txt",
                 "--account", "desk-x", "--db", store_db]) == 0
    capsys.readouterr()
    store = open_store(store_db)
    yield Desk(store=store, campaigns=load_campaigns_quietly([desk_files.campaign]))
    store.close()


def _client(desk: Desk, token: str | None = None) -> TestClient:
    return TestClient(create_app(desk, token=token), base_url="http://127.0.0.1:8765", follow_redirects=False)


def _ready(client: TestClient, name: str | None = "Sam") -> str:
    """Open a page (gets the CSRF cookie), say who we are; the CSRF value for forms."""
    assert client.get("/week").status_code == 200
    csrf = client.cookies["crieur_csrf"]
    if name:
        assert client.post("/reviewer", data={"csrf": csrf, "name": name, "back": "/week"}).status_code == 303
    return csrf


def test_pages_answer_and_say_what_they_show(desk: Desk) -> None:
    client = _client(desk)
    week = client.get("/week")
    assert week.status_code == 200 and "Harbour council backs wind port" in week.text and "awaiting review" in week.text
    assert week.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in week.headers["content-security-policy"]
    thread = client.get("/thread/1")
    assert thread.status_code == 200 and "/280" in thread.text and 'class="tag"' in thread.text
    assert client.get("/attention").status_code == 200
    assert client.get("/thread/999").status_code == 404
    assert client.get("/week?start=not-a-date").status_code == 200


def test_a_form_without_its_csrf_value_or_from_another_site_changes_nothing(desk: Desk) -> None:
    client = _client(desk)
    csrf = _ready(client)
    item = desk.store.get_item(1)
    assert client.post("/thread/1/approve", data={"version": item.version}).status_code == 403
    assert client.post("/thread/1/approve", data={"version": item.version, "csrf": "forged"}).status_code == 403
    crossed = client.post("/thread/1/approve", data={"version": item.version, "csrf": csrf},
                          headers={"origin": "http://evil.example"})
    assert crossed.status_code == 403
    assert desk.store.get_item(1).state == ItemState.AWAITING_REVIEW
    done = client.post("/thread/1/approve", data={"version": item.version, "csrf": csrf},
                       headers={"origin": "http://127.0.0.1:8765"})
    assert done.status_code == 303
    assert desk.store.get_item(1).state == ItemState.SCHEDULED
    assert desk.store.attempts(1)[-1].message.startswith("by Sam")


def test_approving_needs_a_name(desk: Desk) -> None:
    client = _client(desk)
    csrf = _ready(client, name=None)
    answer = client.post("/thread/1/approve", data={"version": 0, "csrf": csrf})
    assert answer.status_code == 400 and "Say who you are" in answer.text
    assert desk.store.get_item(1).state == ItemState.AWAITING_REVIEW


def test_an_over_long_edit_is_refused_with_its_count_and_kept_on_the_page(desk: Desk) -> None:
    client = _client(desk)
    csrf = _ready(client)
    before = desk.store.get_item(1)
    form = {"csrf": csrf, "version": before.version, **{f"post-{p.index}": p.text for p in before.posts}}
    form["post-1"] = "word " * 80
    answer = client.post("/thread/1/edit", data=form)
    assert answer.status_code == 400
    assert "post 1 is 403/280 characters on x (123 over)" in answer.text
    assert "word word word" in answer.text  # the draft is kept for fixing
    assert desk.store.get_item(1).posts == before.posts


def test_a_stale_form_gets_a_conflict_not_a_lost_edit(desk: Desk) -> None:
    first, second = _client(desk), _client(desk)
    csrf_a, csrf_b = _ready(first, "Ann"), _ready(second, "Ben")
    item = desk.store.get_item(1)
    texts = {f"post-{p.index}": p.text for p in item.posts}
    saved = first.post("/thread/1/edit", data={"csrf": csrf_a, "version": item.version, **texts,
                                                 "post-1": "Ann's version of the first post."})
    assert saved.status_code == 303
    lost = second.post("/thread/1/edit", data={"csrf": csrf_b, "version": item.version, **texts,
                                                 "post-1": "Ben's version of the first post."})
    assert lost.status_code == 409 and "changed since you opened it" in lost.text
    assert "Ben&#39;s version" in lost.text or "Ben's version" in lost.text  # his text is not thrown away
    assert desk.store.get_item(1).posts[0].text.startswith("Ann's version")


def test_rescheduling_into_the_past_or_onto_a_taken_slot_is_refused(desk: Desk) -> None:
    client = _client(desk)
    csrf = _ready(client)
    first, second = desk.store.get_item(1), desk.store.get_item(2)
    past = client.post("/thread/1/reschedule", data={"csrf": csrf, "version": first.version, "at": "2001-01-01T10:00"})
    assert past.status_code == 400 and "is in the past" in past.text
    garbage = client.post("/thread/1/reschedule", data={"csrf": csrf, "version": first.version, "at": "soon"})
    assert garbage.status_code == 400 and "is not a date and time" in garbage.text
    local = second.due_at.astimezone(desk.item_zone(second)).strftime("%Y-%m-%dT%H:%M")
    taken = client.post("/thread/1/reschedule", data={"csrf": csrf, "version": first.version, "at": local})
    assert taken.status_code == 400 and f"taken by item {second.id}" in taken.text
    assert desk.store.get_item(1).due_at == first.due_at


def test_join_split_and_hashtags_through_the_page(desk: Desk) -> None:
    client = _client(desk)
    csrf = _ready(client)
    item = desk.store.get_item(1)
    assert len(item.posts) == 2
    tagged = client.post("/thread/1/tag", data={"csrf": csrf, "version": item.version, "op": "drop", "tag": "#WindPort"})
    assert tagged.status_code == 303
    item = desk.store.get_item(1)
    assert "#WindPort" not in " ".join(p.text for p in item.posts)
    split = {"csrf": csrf, "version": item.version, "post-1": item.posts[0].text.replace(". ", ".\n---\n", 1),
             "post-2": item.posts[1].text}
    assert client.post("/thread/1/edit", data=split).status_code == 303
    item = desk.store.get_item(1)
    assert len(item.posts) == 3 and item.posts[2].text.endswith(" 3/3")
    assert client.post("/thread/1/join", data={"csrf": csrf, "version": item.version, "index": 1}).status_code == 303
    assert len(desk.store.get_item(1).posts) == 2


def test_live_counts_use_the_platform_counter(desk: Desk) -> None:
    client = _client(desk)
    csrf = _ready(client)
    counted = client.post("/thread/1/count", data={"csrf": csrf, "post-1": "see https://example.org/" + "a" * 200})
    assert counted.json() == [{"label": "27/280", "fits": True}]


def test_preview_queues_nothing_and_explains_bad_input(desk: Desk, desk_files: DeskFiles) -> None:
    client = _client(desk)
    csrf = _ready(client)
    before = len(desk.store.list_items())
    text = (desk_files.root / "articles" / "harbour.txt").read_text(encoding="utf-8")
    shown = client.post("/preview", data={"csrf": csrf, "article": text, "campaign": "desk"})
    assert shown.status_code == 200 and shown.text.count('class="feed look-') == 2
    empty = client.post("/preview", data={"csrf": csrf, "article": "  "})
    assert empty.status_code == 400 and "Paste an article" in empty.text
    assert len(desk.store.list_items()) == before


def test_media_route_serves_only_the_thread_s_own_images(desk: Desk) -> None:
    client = _client(desk)
    assert client.get("/thread/1/media/0").status_code == 404
    assert client.get("/thread/1/media/-1").status_code == 404


def test_the_token_gate(desk: Desk) -> None:
    client = _client(desk, token=TOKEN)
    refused = client.get("/week")
    assert refused.status_code == 401 and TOKEN not in refused.text
    assert client.post("/thread/1/approve", data={"version": 0}).status_code == 401
    assert client.get("/week?token=wrong").status_code == 401
    exchanged = client.get(f"/thread/1?token={TOKEN}&edit=1")
    assert exchanged.status_code == 303 and exchanged.headers["location"] == "/thread/1?edit=1"
    cookie = exchanged.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    page = client.get("/thread/1")
    assert page.status_code == 200 and TOKEN not in page.text
    scripted = _client(desk, token=TOKEN).get("/week", headers={"authorization": f"Bearer {TOKEN}"})
    assert scripted.status_code == 200


def test_serve_refuses_to_open_to_the_network_without_a_token(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CRIEUR_DESK_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--host", "0.0.0.0", "--db", str(tmp_path / "q.db")]) == 2
    assert "give a token" in capsys.readouterr().err
    assert main(["serve", "--host", "0.0.0.0", "--token", "short", "--db", str(tmp_path / "q.db")]) == 2
    assert "at least 16 characters" in capsys.readouterr().err


def test_cli_approve_and_reject(desk: Desk, capsys: pytest.CaptureFixture[str], desk_files: DeskFiles) -> None:
    db = desk_files.db_url
    assert main(["queue", "approve", "1", "2", "--by", "Ann", "--db", db, "--config", str(desk_files.root)]) == 0
    out = capsys.readouterr().out
    assert "item 1 approved by Ann" in out and "item 2 approved by Ann" in out
    assert main(["queue", "approve", "1", "--by", "Ann", "--db", db]) == 2
    assert "only a thread awaiting review can be approved" in capsys.readouterr().err
    assert main(["queue", "reject", "2", "--reason", "wrong date", "--by", "Ann", "--db", db]) == 0
    assert desk.store.get_item(2).state == ItemState.REJECTED
    assert main(["queue", "reject", "2", "--reason", "again", "--by", "Ann", "--db", db]) == 2
    late = desk.store.get_item(1).due_at + timedelta(hours=3)
    assert late > desk.store.get_item(1).due_at


def _tiny_png(path: Path) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = zlib.compress(b"\x00\xff\x00\x00")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


CW_ARTICLE = """\
---
title: Flood warning for the lower town
cw: flooding, evacuation
media:
  - path: flood.png
    alt: The river over the quay at dawn
---
The river is expected to rise above the quay tonight, and the lower town is asked to move cars
to higher ground before nine.

Shelters open at the school and the town hall. #Flood
"""


def test_mastodon_cards_show_the_content_warning_and_images_with_alt(desk: Desk, desk_files: DeskFiles,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _tiny_png(desk_files.root / "articles" / "flood.png")
    (desk_files.root / "articles" / "flood.txt").write_text(CW_ARTICLE, encoding="utf-8")
    assert main(["enqueue", str(desk_files.campaign), "articles/flood.txt", "--account", "desk-masto",
                 "--db", desk_files.db_url]) == 0
    item = next(i for i in desk.store.list_items() if i.source.endswith("flood.txt"))
    client = _client(desk)
    page = client.get(f"/thread/{item.id}").text
    assert '<details class="cw" open><summary>flooding, evacuation' in page
    assert 'alt="The river over the quay at dawn"' in page and "look-mastodon" in page
    image = client.get(f"/thread/{item.id}/media/0")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    out = desk_files.root / "preview.html"
    assert main(["preview", str(desk_files.root / "articles" / "flood.txt"), "--html", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "flooding, evacuation" in html
    assert "<script" not in html and "http" not in html.split("<main>")[0].replace("http-equiv", "")
    capsys.readouterr()


def test_without_a_token_only_loopback_host_names_are_served(desk: Desk) -> None:
    client = _client(desk)
    assert client.get("/week", headers={"host": "evil.example:8765"}).status_code == 400
    assert client.get("/week", headers={"host": "localhost:8765"}).status_code == 200


def test_a_thread_for_a_markdown_server_says_which_posts_will_not_read_as_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.locations import state_dir_for_store
    from bot.live_limits import LiveLimits

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))  # tests.fakes
    from tests.fakes.fake_mastodon import FakeMastodon

    with FakeMastodon(flavour="hollo") as fake:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("DESK_TOKEN", fake.access_token)
        monkeypatch.delenv("CRIEUR_STATE_DIR", raising=False)
        campaign = tmp_path / "c.yaml"
        campaign.write_text(f"name: md\ntimezone: UTC\naccounts:\n  desk-m:\n    platform: mastodon\n"
                            f"    instance: {fake.url}\n    access_token: ${{DESK_TOKEN}}\n"
                            "schedule: {slots: ['0 9 * * *']}\n", encoding="utf-8")
        (tmp_path / "a.txt").write_text("---\ntitle: Vote\nlang: fr\n---\nLe vote est *important* pour la ville.\n",
                                        encoding="utf-8")
        db = str(tmp_path / "q.db")
        assert main(["enqueue", str(campaign), "a.txt", "--db", db]) == 0  # keeps Hollo's limits beside the store
        capsys.readouterr()
        store = open_store(db)
        try:
            desk = Desk(store=store, campaigns=load_campaigns_quietly([campaign]),
                        limits=LiveLimits(state_dir_for_store("sqlite:///" + db)))
            page = _client(desk).get("/thread/1").text
            plain = _client(Desk(store=store, campaigns=load_campaigns_quietly([campaign]))).get("/thread/1").text
        finally:
            store.close()
    assert 'data-testid="warning-1"' in page and "Hollo 0.6.0 renders Markdown" in page and "*important*" in page
    assert "renders Markdown" not in plain
