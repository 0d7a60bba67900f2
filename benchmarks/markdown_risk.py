"""How long bot.markdown_risk.markdown_changes takes on ordinary posts and on pathological input."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.markdown_risk import markdown_changes  # noqa: E402

ORDINARY = ("Le vote est *important* pour la ville. Le budget passe à 5 * 3 millions, voir "
            "https://example.org/a_b_c et #Budget2025. " * 4)
PATHOLOGICAL = {"a* x3400": "a* " * 3400, "[ x10000": "[" * 10000, "` x5000": "` " * 5000,
                "_a_ x3300": "_a_" * 3300, "\\ x10000": "\\" * 10000}


def _median_ms(text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        markdown_changes(text)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    print(f"ordinary post ({len(ORDINARY)} chars): {_median_ms(ORDINARY, 200):.3f} ms median")
    for name, text in PATHOLOGICAL.items():
        print(f"pathological {name} ({len(text)} chars): {_median_ms(text, 5):.1f} ms median (aim < 50 ms)")


if __name__ == "__main__":
    main()
