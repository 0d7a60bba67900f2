"""The issue's promise, end to end as real processes: a campaign with a Mastodon account on a
server as strict as Hollo publishes threads with their image and alt text, at the server's own
limit, and resumes after a SIGKILL mid-thread with nothing posted twice."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path

from daemon_helpers import Platforms, check_threads, crieur

from bot.store import ItemState, open_store
from tests.fakes.fake_mastodon import FakeMastodon

PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def _article(path: Path, n: int) -> Path:
    body = "\n\n".join(" ".join(f"Story {n} paragraph {p} sentence {s} tells what the harbour council decided."
                                for s in range(6)) for p in range(5))
    path.write_text(f"---\ntitle: Story {n}\nlang: en\nmedia: [{{path: pixel.png, alt: Harbour {n} at dawn}}]\n---\n"
                    f"{body}\n", encoding="utf-8")
    return path


def test_hollo_threads_with_images_at_the_servers_limit_survive_a_kill(tmp_path: Path, daemons) -> None:
    # A Hollo that states 700 characters: more than Crieur's 500 default, so using it shows.
    fake = FakeMastodon(flavour="hollo", max_characters=700).start()
    try:
        fakes = Platforms({"holl": fake})
        campaign = tmp_path / "campaign.yaml"
        campaign.write_text(fakes.campaign_yaml(spacing="700ms"), encoding="utf-8")
        (tmp_path / "pixel.png").write_bytes(PIXEL)
        db = tmp_path / "queue" / "crieur.db"
        now = datetime.now(timezone.utc).isoformat()
        for n in range(2):
            queued = crieur("enqueue", str(campaign), str(_article(tmp_path / f"s{n}.txt", n)), "--at", now,
                            "--db", str(db), cwd=tmp_path, env=fakes.env)
            assert queued.returncode == 0, queued.stderr
        store = open_store(str(db))
        try:
            items = store.list_items()
        finally:
            store.close()
        assert {i.options["limit"] for i in items} == {700}
        assert any(len(p.text) > 500 for i in items for p in i.posts), "formatted at the server's own limit"

        daemon = daemons(str(campaign), "--db", str(db), cwd=tmp_path, env=fakes.env, log=tmp_path / "d.log")
        daemon.wait_for_output("posted 2/", timeout=60)
        daemon.kill()  # mid-thread
        again = crieur("run", "--once", str(campaign), "--db", str(db), cwd=tmp_path, env=fakes.env, timeout=120)
        assert again.returncode == 0, again.stderr
        assert "Traceback" not in again.stderr

        items = check_threads(str(db), fakes.servers)  # each post once, every reply chain intact
        assert {i.state for i in items} == {ItemState.PUBLISHED}
        firsts = {p.id: p for p in fake.posts()}
        for item in items:
            assert firsts[item.posts[0].remote_id].media_alts == (f"Harbour {item.source[-5]} at dawn",)
            assert all(not firsts[p.remote_id].media_alts for p in item.posts[1:])
    finally:
        fake.stop()
