"""A small third-party platform plug-in for Crieur's tests: "Threads", a made-up HTTP API.

Installed by putting this directory's parent on PYTHONPATH (the .dist-info beside it registers
the entry point), as pip would install a package. Everything Crieur needs to know about the
platform is in THREADS; the modules it names are imported only when used.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.platforms import MediaLimits, PlatformPlugin

THREADS = PlatformPlugin(
    name="threads",
    label="Threads",
    profile="crieur_threads.counting:ThreadsCount",
    adapter="crieur_threads.adapter:ThreadsAdapter",
    account="crieur_threads.settings:ThreadsAccount",
    media=MediaLimits(count=1, max_bytes=200_000, max_alt=300),
    caps=((timedelta(hours=24), 250),),
    rate_limit_headers=(("x-threads-remaining", "x-threads-reset"),),
    default_format={"numbering": "prefix", "hashtags": {"max_tags": 1, "placement": "end"}},
    status_url=re.compile(r"/t/(T[0-9]+)(?:[/?#]|$)"),
    handle=lambda name, settings: f"@{settings.get('username') or name} on Threads",
    imitable=True,
)
