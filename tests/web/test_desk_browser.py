"""The desk in a real Chromium, as a person uses it, against real `crieur serve` and `crieur run` processes."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from desk_helpers import LAPTOP, PHONE, DeskFiles, crieur, desk_url

pytestmark = pytest.mark.browser


def _shoot(page, folder: Path, name: str) -> None:
    """Screenshots of the page at a laptop's and a phone's width (full page)."""
    folder.mkdir(exist_ok=True)
    page.set_viewport_size(LAPTOP)
    page.screenshot(path=str(folder / f"{name}-laptop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(folder / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(LAPTOP)


def _ids(files: DeskFiles) -> dict[str, int]:
    listed = json.loads(crieur(files, "queue", "list", "--json", "--db", str(files.db)).stdout)
    # (the daemon also queues the campaign's articles for desk-masto: it polls its sources)
    return {Path(row["source"]).name: row["id"] for row in listed if row["account"] == "desk-x"}


def test_review_edit_approve_publish_reject_reschedule(desk_files: DeskFiles, processes, chromium) -> None:
    files = desk_files
    db = str(files.db)
    crieur(files, "enqueue", str(files.campaign), "articles/harbour.txt", "--account", "desk-x", "--at", "now", "--db", db)
    crieur(files, "enqueue", str(files.campaign), "articles/bridge.txt", "articles/market.txt", "--account", "desk-x",
           "--db", db)
    ids = _ids(files)
    daemon = processes(files, "daemon", "run", "--dry-run", "--db", db, str(files.campaign))
    desk = processes(files, "desk", "serve", str(files.campaign), "--db", db, "--port", "0")
    base = desk_url(desk)
    shots = files.root / "screens"
    page = chromium.new_page(viewport=LAPTOP)
    try:
        # The week: every thread awaiting review is there, with its state and title.
        page.goto(base + "week")
        entry = page.get_by_test_id(f"entry-{ids['harbour.txt']}")
        assert "awaiting review" in entry.inner_text() and "Harbour council backs wind port" in entry.inner_text()
        assert page.locator(".entry.free").count() > 0  # free slots are shown
        page.fill("#reviewer-name", "Dana Desk")
        page.click("header form.who button")
        assert page.get_by_test_id("reviewer").inner_text() == "Dana Desk"
        _shoot(page, shots, "week")

        # Open the thread awaiting review.
        page.get_by_test_id(f"entry-{ids['harbour.txt']}").click()
        assert page.get_by_test_id("state").inner_text() == "awaiting review"
        assert page.locator(".look-x .card").count() >= 1
        assert page.locator(".card .tag").count() >= 1  # hashtags marked
        _shoot(page, shots, "thread")

        # Make post 1 too long: refused with its count, nothing saved.
        page.get_by_test_id("edit").click()
        page.fill("#post-1", "Too long. " * 40)
        # The live counter asks the server, which counts as X does, and marks the post over.
        page.locator("#count-post-1.over").wait_for(timeout=15_000)
        assert page.locator("#count-post-1").inner_text() == "399/280"
        page.click("text=Save posts")
        errors = page.get_by_test_id("errors").inner_text()
        assert "Nothing was changed" in errors and "post 1 is" in errors and "/280 characters on x" in errors
        _shoot(page, shots, "thread-refused")
        assert "Too long." not in crieur(files, "queue", "show", str(ids["harbour.txt"]), "--db", db).stdout

        # Fix it and save: renumbered, counted, and still awaiting review.
        page.fill("#post-1", "The harbour council approved the wind port plan on Tuesday, by seven votes to four.")
        page.click("text=Save posts")
        assert "saved" in page.locator(".flash").inner_text()
        first = page.get_by_test_id("card-1").inner_text()
        assert "approved the wind port plan" in first

        # Approve: the running daemon publishes it without a restart.
        page.get_by_test_id("approve").click()
        assert "approved by Dana Desk" in page.locator(".flash").inner_text()
        assert "approved" in page.get_by_test_id("history").inner_text()
        assert page.get_by_test_id("approved").inner_text().startswith("Dana Desk")
        deadline = time.monotonic() + 90
        while page.get_by_test_id("state").inner_text() != "published":
            assert time.monotonic() < deadline, f"the daemon did not publish it:\n{daemon.text()}"
            time.sleep(1)
            page.reload()
        sent = (files.db.parent / "dryrun.jsonl").read_text(encoding="utf-8")
        assert "approved the wind port plan" in sent
        _shoot(page, shots, "thread-published")

        # Reschedule one: a time another thread holds is refused; a free one is taken.
        page.goto(base + f"thread/{ids['market.txt']}")
        bridge_due = json.loads(crieur(files, "queue", "show", str(ids["bridge.txt"]), "--json", "--db", db).stdout)["due_at"]
        page.fill("input[name=at]", bridge_due[:16])
        page.get_by_test_id("reschedule").click()
        assert f"taken by item {ids['bridge.txt']}" in page.get_by_test_id("errors").inner_text()
        page.fill("input[name=at]", "2099-05-04T11:15")
        page.get_by_test_id("reschedule").click()
        assert "rescheduled" in page.locator(".flash").inner_text()
        assert "04 May 2099 11:15" in page.get_by_test_id("due").inner_text()

        # Reject one, with its reason.
        page.goto(base + f"thread/{ids['bridge.txt']}")
        page.fill("input[name=reason]", "the closure dates changed")
        page.get_by_test_id("reject").click()
        assert page.get_by_test_id("state").inner_text() == "rejected"
        assert "the closure dates changed" in page.get_by_test_id("reason").inner_text()

        page.goto(base + "attention")
        assert page.get_by_test_id("awaiting").count() == 1  # market still waits for approval
        _shoot(page, shots, "attention")

        page.goto(base + "preview")
        page.fill("textarea[name=article]", (files.root / "articles" / "harbour.txt").read_text(encoding="utf-8"))
        page.select_option("select[name=campaign]", "desk")
        page.click("button.primary:has-text('Preview')")
        assert page.locator(".previews .feed").count() == 2
        _shoot(page, shots, "preview")
        assert _ids(files) == ids  # the preview queued nothing
    finally:
        page.close()
    for name in ("week", "thread", "thread-refused", "thread-published", "attention", "preview"):
        assert (shots / f"{name}-laptop.png").stat().st_size > 10_000
        assert (shots / f"{name}-phone.png").stat().st_size > 10_000


def test_a_desk_served_with_a_token_refuses_requests_without_it(desk_files: DeskFiles, processes, chromium) -> None:
    files = desk_files
    crieur(files, "enqueue", str(files.campaign), "articles/harbour.txt", "--account", "desk-x", "--db", str(files.db))
    token = "s3cret-desk-token-for-tests-only"
    desk = processes(files, "desk", "serve", str(files.campaign), "--db", str(files.db), "--port", "0",
                     "--host", "127.0.0.1", env={"CRIEUR_DESK_TOKEN": token})
    base = desk_url(desk)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(base + "week", timeout=30)
    assert refused.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as wrong:
        urllib.request.urlopen(base + "week?token=not-the-token", timeout=30)
    assert wrong.value.code == 401

    context = chromium.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        response = page.goto(base + "thread/1")
        assert response.status == 401
        page.goto(base + f"thread/1?token={token}")
        assert page.url == base + "thread/1"  # the token left the address bar
        assert page.get_by_test_id("state").inner_text() == "awaiting review"
        assert token not in page.content()
        cookie = next(c for c in context.cookies() if c["name"] == "crieur_session")
        assert cookie["httpOnly"] and token not in cookie["value"]
        page.goto(base + "week")
        assert page.locator(".entry").count() > 0
    finally:
        context.close()
    desk.stop()
    assert token not in desk.text()
