"""`crieur run --once` from cron on Bluesky: the session is kept (0600) and reused, not created anew."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

from daemon_helpers import article, crieur

CREATE = ("POST", "/xrpc/com.atproto.server.createSession")


def test_ten_cron_runs_make_one_create_session(tmp_path: Path, platforms) -> None:
    fakes = platforms(sky="bluesky")
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(fakes.campaign_yaml(spacing="0s"), encoding="utf-8")
    db = tmp_path / "queue" / "crieur.db"
    server = fakes.servers["sky"]
    due = datetime.now(timezone.utc) - timedelta(minutes=1)
    for run in range(10):
        # Some runs have a thread to publish, some have nothing due: a session is needed for the first.
        if run % 3 == 0:
            source = article(tmp_path / f"story-{run}.md", f"Story{run} headline", paragraphs=2)
            done = crieur("enqueue", str(campaign), str(source), "--at", due.isoformat(), "--db", str(db),
                          cwd=tmp_path, env=fakes.env)
            assert done.returncode == 0, done.stderr
        done = crieur("run", "--once", str(campaign), "--db", str(db), cwd=tmp_path, env=fakes.env)
        assert done.returncode == 0, done.stderr
    assert len(server.posts()) >= 4, "every thread went out"
    assert server.requests.count(CREATE) == 1, "one createSession for ten runs"
    [saved] = (tmp_path / "queue" / "sessions").iterdir()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert server.app_password not in saved.read_text(), "the session file holds tokens, not the password"
