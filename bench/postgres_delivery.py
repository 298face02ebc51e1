"""Rows 9a-9b: 1 and 2 delivery processes draining the PostgreSQL log rows 8 filled (8 partitions).

``gateway serve --role delivery`` with ``[delivery] workers = 1`` or ``2``, one webhook sink posting
to ``bench/receiver.py`` from the start of the log. Each row has a sink of its own name (so its own
cursors, from seq 0) and a fresh receiver. The headline rate counts from the moment every partition
is leased and each process holds a share (polled in ``sink_cursors``), to the last batch's arrival:
with two processes the first one up takes all partitions and hands half over when the second
registers, and on a short drain that start-up would swamp the comparison. The whole drain (first
batch to last) and the time from launch are given beside it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.configs import Setup
from bench.postgres_cluster import Poller
from bench.postgres_scaling import PARTITIONS
from bench.processes import BenchGateway, Helper
from bench.report import Row, number, verdict

WORKERS = (1, 2)
BATCH_EVENTS = 2000  # ~50 batches for 100k events: enough for the partitions to be shared out
SINK = """[[sinks]]
name = "{name}"
type = "webhook"
target = "{target}/hook"
allow_private_targets = true
batch_max_events = {batch}
batch_max_seconds = 1
start = "beginning"
"""


@dataclass
class Drained:
    workers: int
    backlog: int
    events: int          # received, duplicates included
    seconds: float       # first batch's arrival to the last's
    from_launch: float   # process launch to the last batch's arrival
    spread_after: float  # launch to every partition leased, each process holding a share (-1: never)
    steady: int          # events that arrived from then on
    steady_seconds: float
    cpu_us: float
    holders: dict[str, int]  # lease owner -> partitions held, at the end
    check: str

    @property
    def rate(self) -> float:
        """The headline: events/s once every process holds its share (the whole drain if never)."""
        if self.spread_after >= 0 and self.steady_seconds > 0.5:
            return self.steady / self.steady_seconds
        return self.drain_rate

    @property
    def drain_rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


_HOLDERS = "SELECT owner, count(*) FROM sink_cursors WHERE sink = $1 AND owner IS NOT NULL GROUP BY owner"


class Drain:
    """Waits for the receiver to have the whole backlog, noting when the leases were spread out."""

    def __init__(self, receiver: Helper, gateway: BenchGateway, poller: Poller, sink: str, workers: int) -> None:
        self.receiver, self.gateway, self.poller, self.sink, self.workers = receiver, gateway, poller, sink, workers
        self.spread_at: float | None = None
        self.cpu_at_first: float | None = None
        self.holders: dict[str, int] = {}

    def _look(self) -> None:
        self.holders = {str(owner): int(n) for owner, n in self.poller.fetch(_HOLDERS, self.sink)}
        if self.spread_at is None and len(self.holders) == self.workers \
                and sum(self.holders.values()) == PARTITIONS:
            self.spread_at = time.time()

    def wait(self, backlog: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            self._look()
            stats: dict[str, Any] = self.receiver.get("/stats?since=1e12")
            if self.cpu_at_first is None and stats["events"]:
                self.cpu_at_first = self.gateway.cpu()
            if stats["events"] >= backlog or time.monotonic() > deadline:
                self._look()
                return stats
            process = self.gateway.process
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"delivery exited with {process.returncode}: {self.gateway.stderr()[-500:]}")
            time.sleep(0.1)


def drain(setup: Setup, workdir: Path, url: str, workers: int, backlog: int) -> Drained:
    directory = workdir / f"pg-delivery-{workers}"
    directory.mkdir(parents=True, exist_ok=True)
    sink = f"hook-{workers}w"
    receiver = Helper("receiver.py", log_dir=directory).wait_ready()
    gateway = poller = None
    try:
        poller = Poller(url)
        table = SINK.format(name=sink, target=receiver.url, batch=BATCH_EVENTS)
        gateway = BenchGateway(directory, setup.postgres_config(url, PARTITIONS, table, delivery_workers=workers),
                               env=setup.env)
        launched = time.time()
        gateway.start(wait=False, serve_args=("--role", "delivery"))
        watch = Drain(receiver, gateway, poller, sink, workers)
        stats = watch.wait(backlog, timeout=300)
        cpu = gateway.cpu() - (watch.cpu_at_first or 0.0)
        spread = watch.spread_at
        steady = receiver.get(f"/stats?since=1e12&arrived_after={spread}")["arrived_after"] if spread else 0
    finally:
        if gateway is not None:
            with contextlib.suppress(Exception):
                gateway.close()
        if poller is not None:
            with contextlib.suppress(Exception):
                poller.close()
        receiver.stop()
    events = int(stats["events"])
    first, last = stats["first"] or launched, stats["last"] or launched
    problems = []
    if events < backlog:
        problems.append(f"{events:,} of {backlog:,} delivered")
    if len(watch.holders) != workers:
        problems.append(f"leases held by {len(watch.holders)} process(es) at the end, not {workers}")
    check = "; ".join(problems) or (f"ok ({backlog:,} delivered" + (
        f", {events - backlog:,} twice" if events > backlog else "") + ")")
    return Drained(workers, backlog, events, max(last - first, 1e-3), last - launched,
                   spread - launched if spread else -1.0, steady, max(last - spread, 0.0) if spread else 0.0,
                   1e6 * cpu / max(1, events), watch.holders, check)


def rows(results: list[Drained]) -> list[Row]:
    one = results[0] if results and results[0].workers == 1 else None
    out = []
    for r, letter in zip(results, "ab", strict=False):
        shares = " + ".join(str(n) for n in sorted(r.holders.values(), reverse=True)) or "none"
        ratio = f", {r.rate / one.rate:.2f} x 1 process" if one and r is not one and one.rate else ""
        whole = f" ({r.drain_rate / one.drain_rate:.2f} x)" if one and r is not one and one.drain_rate else ""
        spread = (f"leases spread {r.spread_after:.1f} s after launch, then {number(r.steady)} events in "
                  f"{r.steady_seconds:.1f} s" if r.spread_after >= 0 else "leases never spread out")
        out.append(Row(
            f"9{letter}", f"PostgreSQL, [delivery] workers = {r.workers} (--role delivery): webhook sink "
            f"draining the log of rows 8 ({number(r.backlog)} events), {number(BATCH_EVENTS)}-event batches",
            f"{number(r.rate)} events/s{ratio} once every process held its share ({spread}); whole drain "
            f"{number(r.drain_rate)} events/s{whole}, first batch to last {r.seconds:.1f} s, "
            f"{r.from_launch:.1f} s from launch; CPU {r.cpu_us:.0f} us/event; leases {shares}",
            ">= 0.95 x 1 process" if r.workers > 1 else "",
            verdict(bool(one) and r.rate >= 0.95 * one.rate) if r.workers > 1 and one else "", r.check))
    return out
