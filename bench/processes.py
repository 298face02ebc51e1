"""The processes a benchmark run starts on 127.0.0.1, and what it reads from them (RSS, the log, metrics)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import RunningGateway, free_port

BENCH = Path(__file__).resolve().parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LAG_REFRESH_SECONDS = 1.2  # an ingest process re-reads delivery's cursors every second (gateway.delivery.view)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Hypercorn's workers when ``workers`` > 1)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                queue.extend(int(p) for p in (task / "children").read_text().split())
            except OSError:
                pass
    return found


def peak_rss_mb(pid: int) -> float:
    """The kernel's high-water mark of resident memory (VmHWM) of one process, in MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) ``pid`` and its children have used so far."""
    total = 0.0
    for each in descendants(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


class BenchGateway(RunningGateway):
    """A gateway subprocess whose peak memory and durable log the benchmark can read."""

    def peak_rss(self) -> dict[int, float]:
        """Peak RSS per process, for the processes that serve (the master alone when it only supervises)."""
        assert self.process is not None
        pids = descendants(self.process.pid)
        serving = pids[1:] or pids
        return {pid: peak_rss_mb(pid) for pid in serving}

    def cpu(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def roles(self) -> list[str]:
        """The ``--role`` of each worker below the supervisor (``ingest``, ``delivery``), from /proc."""
        assert self.process is not None
        found = []
        for pid in descendants(self.process.pid)[1:]:
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--worker" in args and b"--role" in args:
                found.append(args[args.index(b"--role") + 1].decode())
        return sorted(found)

    def log_count(self) -> int:
        path = self.dir / "data" / "gateway.db"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM event_log").fetchone()[0])

    def metric(self, name: str, **labels: str) -> float:
        return self.metric_or_none(name, **labels) or 0.0

    def metric_or_none(self, name: str, **labels: str) -> float | None:
        """The sum of the lines of ``name`` with ``labels``; None when /metrics has no such line."""
        text = self.get("/metrics").text
        total = None
        for line in text.splitlines():
            if not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            if head.split("{")[0] == name and all(f'{k}="{v}"' in head for k, v in labels.items()):
                total = (total or 0.0) + float(value)
        return total

    def wait_sink_drained(self, sink: str, timeout: float) -> float:
        """Wait until ``sink`` has taken the whole log; the seconds it took (``timeout`` when it did not).

        The lag comes from the delivery process's cursors, read by the ingest process every second: no
        line yet means no delivery process has taken the sink's leases (not "no lag"), and a 0 is
        believed only when the next reading, after a refresh, still says 0."""
        started = time.monotonic()
        zero_since = None
        while time.monotonic() - started < timeout:
            lag = self.metric_or_none("gateway_sink_lag_events", sink=sink)
            if lag != 0:
                zero_since = None
            elif zero_since is None:
                zero_since = time.monotonic()
            elif time.monotonic() - zero_since >= LAG_REFRESH_SECONDS:
                return zero_since - started
            time.sleep(0.2)
        return timeout


class Helper:
    """A small server of the benchmark's own (the baseline app, the webhook receiver) in a subprocess."""

    def __init__(self, script: str, *args: str, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (log_dir / f"{Path(script).stem}.log").open("ab")
        self.process = subprocess.Popen([sys.executable, str(BENCH / script), *args, str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})})

    def wait_ready(self, method: str = "GET", path: str = "/stats", timeout: float = 20) -> Helper:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.process.args!r} exited with {self.process.returncode}")
            try:
                httpx.request(method, self.url + path, content=b"{}", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise TimeoutError(f"{self.process.args!r} did not answer within {timeout}s")

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=30).json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
