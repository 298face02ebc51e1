"""``--profile DIR``: py-spy samples of the gateway while a row's load runs, and where the time went.

Each row leaves ``DIR/<row>.txt`` (collapsed stacks, py-spy's "raw" format, which flamegraph tools
read) and ``DIR/<row>.summary.txt``: the share of samples per function (self time) and per area
of the code (inclusive), which is what the README's profile notes are made from.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from bench.processes import BenchGateway, descendants

# Areas of the stack, checked in order against each frame's file path; the first match counts.
AREAS = (
    ("sqlite (aiosqlite thread, sqlite3)", ("aiosqlite/", "sqlite3/")),
    ("sqlalchemy", ("sqlalchemy/",)),
    ("hypercorn + h11 (HTTP)", ("hypercorn/", "h11/")),
    ("starlette routing", ("starlette/",)),
    ("schema validation", ("fastjsonschema", "jsonschema/", "gateway/validation.py")),
    ("enrichment", ("gateway/enrich.py",)),
    ("delivery + sinks", ("gateway/delivery.py", "plugins/sqlite_sink/", "plugins/webhook_sink/",
                          "plugins/stdout_sink/")),
    ("durable log (group commit)", ("gateway/storage/",)),
    ("dialect plugins", ("plugins/",)),
    ("ingest endpoint, auth, body", ("gateway/",)),
    ("asyncio / uvloop", ("asyncio/", "uvloop/")),
)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return found


class Profiler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.exe = py_spy()

    @contextlib.contextmanager
    def record(self, gateway: BenchGateway, label: str, seconds: float) -> Iterator[None]:
        assert gateway.process is not None
        pid = descendants(gateway.process.pid)[-1]  # the serving process (a worker when there are several)
        out = self.directory / f"{label}.txt"
        spy = subprocess.Popen([self.exe, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                                "--rate", "250", "--format", "raw", "--threads", "--nonblocking",
                                "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield
        finally:
            try:
                spy.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                spy.kill()
        if out.exists():
            (self.directory / f"{label}.summary.txt").write_text(summarize(out))


def summarize(collapsed: Path, top: int = 25) -> str:
    own: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        seen = {area for frame in frames for area, marks in AREAS if any(m in frame for m in marks)}
        for area in seen or {"other"}:
            areas[area] += count
    lines = [f"{total} samples", "", "inclusive share by area (a sample counts once per area on its stack):"]
    lines += [f"  {100 * n / total:5.1f}%  {area}" for area, n in areas.most_common()]
    lines += ["", f"top {top} functions by self time:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines) + "\n"
