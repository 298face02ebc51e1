"""The sustained row: the highest rate of ``/v1/batch`` x100 at which the SQLite and stdout sinks keep up.

Open-loop load in steps of rising offered rate, on a ``gateway serve`` with its defaults: one ingest
worker and one delivery worker, so the sinks run in a process of their own. During each step the lag
of each sink is sampled from outside the gateway, from the sink's own output: the age of the newest
event in it (the SQLite file's last row, stdout's last line), against now. A step keeps up when no request failed and
both lags stayed under ``MAX_LAG`` seconds; the row reports the best such step's achieved rate.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from bench.loadgen import Load, run_wrk

MAX_LAG = 2.0
# Requests leave on a fixed schedule (wrk's script, BENCH_RATE) over enough connections that this
# much latency still leaves one free for each due request: a closed loop (each connection pausing
# after its answer) offered less as answers slowed, so the row measured latency, not keeping up.
LATENCY_ALLOWANCE = 0.4
STEPS = (2_500, 5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000, 60_000, 80_000)


@dataclass
class Step:
    offered: float
    achieved: float
    lag_sqlite: float
    lag_stdout: float
    failed: int
    cpu_us: float

    @property
    def kept_up(self) -> bool:
        return not self.failed and max(self.lag_sqlite, self.lag_stdout) < MAX_LAG


def _age(received_at: str | None, now: float) -> float:
    if not received_at:
        return float("inf")
    return now - datetime.fromisoformat(received_at.replace("Z", "+00:00")).timestamp()


def sqlite_lag(path: Path, now: float) -> float:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT received_at FROM events ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return float("inf")
    if row is None:
        return float("inf")
    # SQLite's "YYYY-MM-DD HH:MM:SS.ffffff", UTC
    return now - datetime.fromisoformat(row[0] + "+00:00").timestamp()


def stdout_lag(path: Path, now: float) -> float:
    try:
        with path.open("rb") as out:
            out.seek(max(0, os.path.getsize(path) - 65536))
            lines = out.read().splitlines()
    except OSError:
        return float("inf")
    for line in reversed(lines):
        try:
            return _age(orjson.loads(line).get("receivedAt"), now)
        except orjson.JSONDecodeError:
            continue  # a line still being written
    return float("inf")


def step(url: str, body: bytes, auth: str, offered: float, seconds: float, events_per_request: int,
         sqlite_path: Path, stdout_path: Path, cpu: Callable[[], float]) -> Step:
    requests_per_second = offered / events_per_request
    connections = max(4, round(requests_per_second * LATENCY_ALLOWANCE))
    result: dict[str, Load] = {}
    runner = threading.Thread(target=lambda: result.setdefault("load", run_wrk(
        url, body, seconds=seconds, connections=connections, authorization=auth, rate=requests_per_second)))
    worst = {"sqlite": 0.0, "stdout": 0.0}
    before = cpu()
    runner.start()
    time.sleep(min(2.0, seconds / 3))  # the first batches are on their way: lag is measured from here
    while runner.is_alive():
        now = time.time()
        worst["sqlite"] = max(worst["sqlite"], sqlite_lag(sqlite_path, now))
        worst["stdout"] = max(worst["stdout"], stdout_lag(stdout_path, now))
        time.sleep(0.5)
    runner.join()
    load = result["load"]
    events = load.ok * events_per_request
    return Step(offered, events / load.seconds, worst["sqlite"], worst["stdout"], load.failed,
                1e6 * (cpu() - before) / max(1, events))


def ramp(url: str, body: bytes, auth: str, seconds: float, events_per_request: int, sqlite_path: Path,
         stdout_path: Path, cpu: Callable[[], float], settle: Callable[[], None]) -> list[Step]:
    """Steps of rising offered rate until one does not keep up (or the achieved rate stops rising)."""
    steps: list[Step] = []
    for offered in STEPS:
        current = step(url, body, auth, offered, seconds, events_per_request, sqlite_path, stdout_path, cpu)
        steps.append(current)
        settle()
        if not current.kept_up or (len(steps) > 1 and current.achieved < 1.05 * steps[-2].achieved):
            break
    return steps
