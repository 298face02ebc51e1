"""How long the ``gateway`` command takes to start: ``--help`` and ``check`` (target: under 0.5 s each).

``.venv/bin/python bench/cli_startup.py [--runs N]`` runs each command N times in a fresh process and
prints the median wall-clock time and the median CPU time (user + system) of the child, which is
what a loaded machine does not inflate.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.5
COMMANDS = {"gateway --help": ["--help"], "gateway check": ["check", "--config", str(ROOT / "config.toml")]}


def measure(args: list[str], runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gateway", *args], check=True, stdout=subprocess.DEVNULL,
                       cwd=ROOT, env={**os.environ})
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"{'command':<16} {'wall (median)':>14} {'cpu (median)':>13}  target {TARGET_SECONDS}s")
    worst = 0.0
    for name, argv in COMMANDS.items():
        wall, cpu = measure(argv, args.runs)
        worst = max(worst, wall)
        print(f"{name:<16} {wall:>13.3f}s {cpu:>12.3f}s  {'ok' if wall < TARGET_SECONDS else 'SLOW'}")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
