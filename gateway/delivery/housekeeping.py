"""Housekeeping under its lease: pruning the log in small batches, and checkpoints on SQLite.

Only the holder of the housekeeping lease prunes, so processes never race to delete. Each batch
is one short transaction (``PRUNE_BATCH`` rows), with a pause between, so ingestion's commits never
wait long for the log's write lock; after a round, a checkpoint keeps SQLite's WAL from growing
(a TRUNCATE one when it has grown past ``WAL_TRUNCATE_BYTES``). Figures go in the process's report
(/metrics: ``gateway_log_pruned_events``, ``gateway_log_prune_batch_seconds_max``, ``gateway_log_wal_bytes``,
``gateway_log_checkpoints``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from gateway.delivery.leases import Lease

if TYPE_CHECKING:
    from gateway.delivery.coordinator import Coordinator
    from gateway.storage.database import Database

log = logging.getLogger("gateway.housekeeping")

PRUNE_BATCH = 2000
PAUSE_SECONDS = 0.02
WAL_TRUNCATE_BYTES = 64 * 1024 * 1024


class Housekeeper:
    def __init__(self, lease: Lease, coordinator: Coordinator, *, log_database: Database,
                 retention_seconds: float, every: float) -> None:
        self.lease = lease
        self.coordinator = coordinator
        self.database = log_database
        self.retention = retention_seconds
        self.every = every
        self.report = coordinator.report
        self.task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self, on_exit: Any) -> None:
        async def run() -> None:
            try:
                await self._run()
            finally:
                on_exit(self, "stopped" if self._stopping.is_set() or self.lease.valid()
                        else "its lease could not be renewed in time")

        self.task = asyncio.create_task(run(), name="housekeeping")

    async def stop(self, timeout: float) -> None:
        self._stopping.set()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping.is_set() and self.lease.valid():
            try:
                await self.prune_once()
                await self.checkpoint()
            except Exception:
                log.exception("housekeeping failed; retrying in %.0fs", self.every)
            deadline = time.monotonic() + self.every
            while time.monotonic() < deadline and self.lease.valid():
                await asyncio.sleep(min(1.0, self.every))

    async def _floors(self) -> dict[int, int]:
        """Per partition, the lowest cursor of the sinks live processes run (0 if one has none yet)."""
        store = self.coordinator.store
        live = {s for p in await store.processes(await store.now()) for s in p["sinks"]}
        rows = await store.rows()
        floors: dict[int, int] = {}
        for partition in self.coordinator.heads:
            seqs = [rows[(s, partition)].seq if (s, partition) in rows else 0 for s in live]
            floors[partition] = min(seqs, default=self.coordinator.heads[partition])
        return floors

    async def prune_once(self) -> int:
        reader = self.coordinator.reader
        cutoff = time.time() - self.retention
        removed = 0
        for partition, floor in (await self._floors()).items():
            while self.lease.valid() and not self._stopping.is_set():
                started = time.perf_counter()
                n = await reader.prune_batch(partition, floor, cutoff, PRUNE_BATCH)
                self._timed(time.perf_counter() - started)
                removed += n
                if n < PRUNE_BATCH:
                    break
                await asyncio.sleep(PAUSE_SECONDS)
        while self.lease.valid() and not self._stopping.is_set():
            started = time.perf_counter()
            n = await reader.prune_rejections(cutoff, PRUNE_BATCH)
            self._timed(time.perf_counter() - started)
            if n < PRUNE_BATCH:
                break
            await asyncio.sleep(PAUSE_SECONDS)
        self.report.count("pruned_events", removed)
        if removed:
            log.info("pruned %d events from the log", removed)
        return removed

    def _timed(self, seconds: float) -> None:
        figures = self.report.housekeeping
        self.report.gauge("prune_batch_seconds_max", max(figures.get("prune_batch_seconds_max", 0.0), seconds))

    async def checkpoint(self) -> None:
        path = self.database.path
        if path is None:
            return
        wal = f"{path}-wal"
        size = _size(wal)
        mode = "TRUNCATE" if size > WAL_TRUNCATE_BYTES else "PASSIVE"
        async with self.database.engine.connect() as conn:
            busy, _frames, _done = (await conn.execute(text(f"PRAGMA wal_checkpoint({mode})"))).one()
        self.report.count("checkpoints")
        if busy:
            self.report.count("checkpoints_busy")
        self.report.gauge("wal_bytes", _size(wal))


def _size(path: str) -> int:
    """A file's size, 0 when it is not there (a stat: not worth a thread hop)."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
