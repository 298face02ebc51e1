"""Rows 8 and 9 in order on one throwaway PostgreSQL: ingest hosts fill the log, delivery drains it.

A row that fails says why in its result and the others still run; without PostgreSQL (or asyncpg)
the rows say ``n/a`` with the reason. The cluster and every gateway are stopped at the end, even on
error (each row stops its own processes; the cluster's context manager stops the cluster).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import postgres_delivery, postgres_scaling
from bench.configs import Setup
from bench.postgres_cluster import BenchPostgres, bench_database, log_count, unavailable
from bench.report import Row

INGEST = "PostgreSQL: ingest hosts on one database"
DELIVERY = "PostgreSQL: delivery processes"


def _error(exc: BaseException) -> str:
    return " ".join(f"error: {type(exc).__name__}: {exc}".split())[:300]  # one line of the table


def postgres_rows(setup: Setup, args: argparse.Namespace, workdir: Path, notes: list[str]) -> list[Row]:
    reason = unavailable()
    if reason:
        return [Row("8", INGEST, f"n/a ({reason})"), Row("9", DELIVERY, f"n/a ({reason})")]
    rows: list[Row] = []
    try:
        with bench_database() as postgres:
            rows += _ingest(setup, args, workdir, postgres, notes)
            rows += _delivery(setup, workdir, postgres.url)
    except Exception as exc:  # the cluster did not start (or stop): what ran is kept
        rows.append(Row("8" if not rows else "9", "PostgreSQL cluster", f"n/a ({_error(exc)})"))
    return rows


def _ingest(setup: Setup, args: argparse.Namespace, workdir: Path, postgres: BenchPostgres,
            notes: list[str]) -> list[Row]:
    results = []
    for run, n in enumerate(postgres_scaling.HOSTS):
        try:
            results.append(postgres_scaling.measure(
                setup, workdir / f"run{run}", postgres, n, seconds=args.seconds, warmup=args.warmup,
                connections=args.batch_connections, notes=notes))
        except Exception as exc:
            return [*postgres_scaling.rows(results, notes), Row("8", f"{INGEST}, {n} host(s)", _error(exc))]
    return postgres_scaling.rows(results, notes)


def _delivery(setup: Setup, workdir: Path, url: str) -> list[Row]:
    backlog = log_count(url)
    if not backlog:
        return [Row("9", DELIVERY, "n/a (the log is empty: rows 8 did not fill it)")]
    results = []
    for workers in postgres_delivery.WORKERS:
        try:
            results.append(postgres_delivery.drain(setup, workdir, url, workers, backlog))
        except Exception as exc:
            return [*postgres_delivery.rows(results), Row("9", f"{DELIVERY}, {workers} worker(s)", _error(exc))]
    return postgres_delivery.rows(results)
