"""The run's table: printed at the end and kept, with the machine it ran on, in ``bench/results.md``."""

from __future__ import annotations

import datetime
import os
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")


@dataclass
class Row:
    number: str
    what: str
    result: str
    target: str = ""
    verdict: str = ""  # "met", "MISSED", or "" when the row has no target
    check: str = ""    # did every acknowledged event reach the log, were there errors


def machine() -> str:
    cpu = "unknown CPU"
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    ram = "?"
    try:
        found = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
        ram = f"{int(found.group(1)) / 1024 / 1024:.1f} GiB" if found else ram
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}), {ram} RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def number(value: float) -> str:
    return f"{value:,.0f}"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def render(rows: list[Row]) -> str:
    header = ("#", "measure", "result", "target", "verdict", "check")
    table = [header, *((r.number, r.what, r.result, r.target, r.verdict, r.check) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in table[1:])])


def write_results(rows: list[Row], settings: str, notes: list[str]) -> None:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = [
        "# Benchmark results (latest run)",
        "",
        "Written by `make bench` (`bench/run.py`); every figure below comes from one run, so the ratios",
        "compare like with like. See `bench/README.md` for what each row measures.",
        "",
        f"- when: {when}",
        f"- machine: {machine()}",
        f"- settings: {settings}",
        f"- command: `{' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}`",
        "",
        render(rows),
        "",
    ]
    if notes:
        text += ["Notes from this run:", "", *(f"- {n}" for n in notes), ""]
    RESULTS.write_text("\n".join(text))
