"""The PostgreSQL of rows 8 and 9: a throwaway cluster from Debian's packages, and what the rows read from it.

The cluster is the tests' (``tests/support/postgres.py``) with PostgreSQL's durable defaults kept
(fsync, synchronous_commit, full_page_writes on), so a commit costs a WAL flush as it does in
production. ``LockSampler`` watches ``pg_stat_activity`` during a load: the share of the time the
gateway's sessions spend inside a transaction that they wait for a lock held by another (any row
lock, not only the partition's), which the gateway's own metric cannot see.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.processes import cpu_seconds
from tests.support.postgres import postgres_bin, throwaway_cluster


def unavailable() -> str | None:
    """Why the PostgreSQL rows cannot run on this machine, or None."""
    if importlib.util.find_spec("asyncpg") is None:
        return "asyncpg missing: install the dev extra"
    if postgres_bin() is None:
        return "PostgreSQL missing: install the Debian package postgresql"
    return None


@dataclass
class BenchPostgres:
    url: str  # the bench's database
    pid: int  # the postmaster: its CPU and its backends' is PostgreSQL's

    def cpu(self) -> float:
        return cpu_seconds(self.pid)


@contextmanager
def bench_database() -> Iterator[BenchPostgres]:
    """A started cluster's fresh database; the cluster is stopped and removed afterwards."""
    bin_dir = postgres_bin()
    assert bin_dir is not None
    with throwaway_cluster(bin_dir, durable=True) as cluster, cluster.database("bench") as url:
        yield BenchPostgres(url, postmaster_pid(url))


def postmaster_pid(url: str) -> int:
    """The first line of the data directory's ``postmaster.pid``."""
    data = Path(query(url, "SHOW data_directory")[0][0])
    return int((data / "postmaster.pid").read_text().split()[0])


def query(url: str, statement: str, **params: Any) -> list[Any]:
    async def go() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return list(await conn.execute(text(statement), params))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def log_count(url: str) -> int:
    return int(query(url, "SELECT count(*) FROM event_log")[0][0])


def wal_position(url: str) -> int:
    """Bytes of WAL written so far: what every commit costs the server's disk (and its replicas)."""
    return int(query(url, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")[0][0])


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Poller:
    """One connection kept open for frequent small queries from synchronous code (a loop of its own)."""

    def __init__(self, url: str) -> None:
        import asyncpg

        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(asyncpg_dsn(url)))

    def fetch(self, statement: str, *args: Any) -> list[Any]:
        return list(self.loop.run_until_complete(self.conn.fetch(statement, *args)))

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.conn.close())
        finally:
            self.loop.close()


_ACTIVITY = """SELECT state, wait_event_type, wait_event, left(query, 40) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
AND state IN ('active', 'idle in transaction')"""


class LockSampler:
    """Samples the gateway's sessions every ``interval`` s in a thread of its own, until ``stop()``."""

    def __init__(self, url: str, interval: float = 0.02) -> None:
        self.dsn = asyncpg_dsn(url)
        self.interval = interval
        self.in_transaction = 0  # session samples inside a transaction
        self.waiting: Counter[str] = Counter()  # of those, waiting for a lock, by statement
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    async def _run(self) -> None:
        import asyncpg

        try:
            conn = await asyncpg.connect(self.dsn)
        except Exception as exc:  # reported by share(), never fatal to the row
            self._error = exc
            return
        try:
            while not self._stop.is_set():
                for state, wait_type, wait_event, statement in await conn.fetch(_ACTIVITY):
                    self.in_transaction += 1
                    if state == "active" and wait_type == "Lock":
                        self.waiting[f"{' '.join(statement.split()[:3])} ({wait_event})"] += 1
                await asyncio.sleep(self.interval)
        finally:
            await conn.close()

    def share(self) -> float | None:
        return sum(self.waiting.values()) / self.in_transaction if self.in_transaction else None

    def describe(self) -> str:
        if self._error is not None:
            return f"lock sampling failed: {type(self._error).__name__}"
        share = self.share()
        if share is None:
            return "no session was seen in a transaction"
        top = ", ".join(f"{statement!r} {n}" for statement, n in self.waiting.most_common(3))
        return (f"{100 * share:.1f}% of {self.in_transaction:,} session samples in a transaction were waiting "
                f"for a lock" + (f" ({top})" if top else ""))
