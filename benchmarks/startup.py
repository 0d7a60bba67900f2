"""Print how long `crieur --help` and `crieur preview SAMPLE --platform x` take against `python -c "import yaml"`.

Measured side by side in one run: the three commands take turns, each run as a fresh process,
and the medians are compared. Targets: preview <= 2.5x, --help <= 1.5x the yaml import. Byte
code is cached as an installed package would have it (one warm-up run of each first; the
PYTHONDONTWRITEBYTECODE of a test shell is dropped).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("STARTUP_RUNS", "15"))


def sample() -> Path:
    for candidate in (ROOT.parent / "shared" / "articles" / "seed-fr-ukraine.txt",
                      ROOT.parent.parent / "shared" / "articles" / "seed-fr-ukraine.txt"):
        if candidate.exists():
            return candidate
    return ROOT / "config" / "articles" / "fr-budget-49-3.txt"


def crieur() -> list[str]:
    script = Path(sys.executable).parent / "crieur"
    if script.exists():
        return [str(script)]
    found = shutil.which("crieur")
    return [found] if found else [sys.executable, "-m", "bot"]


def main() -> int:
    article = sample()
    commands = {
        "python -c 'import yaml'": [sys.executable, "-c", "import yaml"],
        "crieur --help": [*crieur(), "--help"],
        "crieur preview (x)": [*crieur(), "preview", str(article), "--platform", "x"],
    }
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for name, argv in commands.items():  # warm-up: byte code written, files in the page cache
        subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    for _ in range(RUNS):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c 'import yaml'"])
    print(f"article: {article.name}; {RUNS} runs each, interleaved; medians")
    targets = {"crieur --help": 1.5, "crieur preview (x)": 2.5}
    for name, samples in times.items():
        med = statistics.median(samples)
        ratio = med / base
        target = targets.get(name)
        verdict = "" if target is None else f"  target <= {target}x: {'met' if ratio <= target else 'NOT met'}"
        print(f"{name:26} {med * 1000:7.1f} ms  {ratio:4.2f}x{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
