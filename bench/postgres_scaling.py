"""Rows 8a-8c: ``/v1/batch`` x100 through 1, 2 and 4 gateway hosts on ONE PostgreSQL (8 partitions).

Each "host" is a ``gateway serve --role ingest`` of its own: its own port, supervisor, connection
pool and home partition, as N hosts behind a load balancer are (``[server] workers = N`` would share
one socket and one host's /metrics). One wrk spreads the same connections over them, one thread per
host. Every row uses the same database, so the later rows commit into a larger log. The order is
1, 2, 4, then 1 host again: the ratios are to the mean of the two 1-host runs, and how far those two
differ shows how much the machine's noise alone moves a figure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.configs import Setup
from bench.loadgen import Load, run_wrk
from bench.postgres_cluster import BenchPostgres, LockSampler, log_count, wal_position
from bench.processes import BenchGateway
from bench.report import Row, number, verdict

PARTITIONS = 8
HOSTS = (1, 2, 4, 1)
BATCH = 100
LOCK_WAIT = "gateway_group_commit_lock_wait_seconds_total"
COMMIT_SUM = "gateway_group_commit_seconds_sum"
COMMIT_COUNT = "gateway_group_commit_seconds_count"


@dataclass
class Result:
    hosts: int
    load: Load
    events_per_s: float
    lock_share: float  # the gateway's partition lock wait / commit time, summed over hosts
    commits: float
    commit_ms: float  # mean commit duration
    cpu_us: float     # all hosts' CPU per event
    pg_cpu_us: float  # PostgreSQL's CPU per event (postmaster and backends)
    wal_bytes: float  # WAL per event
    any_lock: float | None  # PostgreSQL's view: sessions in a transaction waiting for any lock
    check: str


@contextlib.contextmanager
def running_hosts(setup: Setup, workdir: Path, url: str, n: int) -> Iterator[list[BenchGateway]]:
    """``n`` ingest hosts, started together and all stopped afterwards, whatever happens."""
    hosts = [BenchGateway(workdir / f"pg-ingest-{n}-{i}", setup.postgres_config(url, PARTITIONS), env=setup.env)
             for i in range(n)]
    try:
        for host in hosts:
            host.start(wait=False, serve_args=("--role", "ingest"))
        for host in hosts:
            host.wait_ready()
        yield hosts
    finally:
        for host in hosts:
            with contextlib.suppress(Exception):
                host.close()


def _figures(hosts: list[BenchGateway]) -> tuple[float, float, float, float]:
    return (sum(h.metric(LOCK_WAIT) for h in hosts), sum(h.metric(COMMIT_SUM) for h in hosts),
            sum(h.metric(COMMIT_COUNT) for h in hosts), sum(h.cpu() for h in hosts))


def measure(setup: Setup, workdir: Path, postgres: BenchPostgres, n: int, *, seconds: float, warmup: float,
            connections: int, notes: list[str]) -> Result:
    url = postgres.url
    with running_hosts(setup, workdir, url, n) as hosts:
        targets = [f"127.0.0.1:{h.port}" for h in hosts]
        target_url = hosts[0].url + setup.batch_path
        body, auth = setup.batch_body(BATCH), setup.track_auth
        run_wrk(target_url, body, seconds=warmup, connections=connections, authorization=auth, targets=targets)
        logged, before, pg_before, wal = log_count(url), _figures(hosts), postgres.cpu(), wal_position(url)
        with LockSampler(url) as sampler:
            load = run_wrk(target_url, body, seconds=seconds, connections=connections, authorization=auth,
                           targets=targets)
        pg_cpu, wal = postgres.cpu() - pg_before, wal_position(url) - wal
        committed, after = log_count(url) - logged, _figures(hosts)
    lock, commit_s, commits, cpu = (a - b for a, b in zip(after, before, strict=True))
    notes.append(f"row 8 with {n} host(s): PostgreSQL side, {sampler.describe()}")
    problems = []
    if load.failed:
        problems.append(f"{load.failed:,} failed requests")
    if committed < load.ok * BATCH:
        problems.append(f"LOST {load.ok * BATCH - committed:,} acknowledged events")
    events = max(1, load.ok * BATCH)
    return Result(n, load, load.ok * BATCH / load.seconds, lock / commit_s if commit_s else 0.0, commits,
                  1e3 * commit_s / commits if commits else 0.0, 1e6 * cpu / events, 1e6 * pg_cpu / events,
                  wal / events, sampler.share(), "; ".join(problems) or f"ok ({committed:,} events logged)")


def reference(results: list[Result]) -> float:
    """The mean events/s of the 1-host runs: what the others are compared with."""
    ones = [r.events_per_s for r in results if r.hosts == 1]
    return sum(ones) / len(ones) if ones else 0.0


def rows(results: list[Result], notes: list[str]) -> list[Row]:
    one = reference(results)
    ones = [r.events_per_s for r in results if r.hosts == 1]
    if len(ones) > 1 and one:
        notes.append(f"rows 8: the two 1-host runs differ by {100 * (max(ones) - min(ones)) / one:.0f}% of "
                     f"their mean ({', '.join(number(x) for x in ones)} events/s): the machine's noise")
    out = []
    for r, letter in zip(results, "abcd", strict=False):
        ratio = r.events_per_s / one if one else 0.0
        scaled = r.hosts == 1 or ratio >= 0.95
        any_lock = f"{100 * r.any_lock:.1f}%" if r.any_lock is not None else "n/a"
        out.append(Row(
            f"8{letter}", f"PostgreSQL, {r.hosts} ingest host(s) (--role ingest), {PARTITIONS} partitions: "
            f"/v1/batch x{BATCH}" + (" (again)" if letter == "d" else ""),
            f"{number(r.events_per_s)} events/s, {ratio:.2f} x 1 host"
            + f"; partition lock wait {100 * r.lock_share:.1f}% of commit time ({number(r.commits)} commits, "
            f"mean {r.commit_ms:.1f} ms); any lock, sampled in PostgreSQL: {any_lock} of in-transaction time; "
            f"p99 {r.load.p99_ms:.0f} ms; CPU {r.cpu_us:.0f} us/event gateways + {r.pg_cpu_us:.0f} PostgreSQL; "
            f"WAL {r.wal_bytes:,.0f} bytes/event",
            ">= 0.95 x 1 host; lock wait < 10%" if r.hosts > 1 else "lock wait < 10%",
            verdict(scaled and r.lock_share < 0.10), r.check))
    return out
