"""One (sink, partition) under one lease: cut a batch, hand it to the sink, advance the cursor.

A batch is cut at ``batch_max_events`` or ``batch_max_seconds``, whichever first. The cursor moves
only after ``deliver`` returns and only while the lease's epoch is current; the worker checks its
lease before every batch, so a process that could not renew stops before the lease can expire.
At most the batch in flight when the lease was lost is delivered again by the next owner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from gateway.delivery.fence import LeaseLost
from gateway.delivery.leases import Lease, LeaseStore
from gateway.delivery.runner import SinkRunner
from gateway.errors import Unavailable
from gateway.retry import RetryPolicy
from gateway.sinks import Batch, event_filter
from gateway.storage.queries import LogReader, LogRow

log = logging.getLogger("gateway.delivery")

POLL_SECONDS = 0.25
# A sink without batch_max_seconds that delivered less than this ago waits out the rest before taking
# a part batch: under load it would otherwise make a delivery for each group commit, a few events each.
LINGER_SECONDS = 0.05
# A batch is cut at this many bytes of events too: batch_max_events = 10000 of 32 KiB events would
# otherwise hold 320 MB in memory at once.
BATCH_MAX_BYTES = 16 * 1024 * 1024
# Rows per read, the byte bound checked between reads; the first read is small, as the size of the
# events is not known yet (100 of the largest, 32 KiB, are 3.2 MB past the bound at most).
READ_CHUNK_EVENTS = 1000
FIRST_READ_EVENTS = 100
# A sink that says it is busy (raises Unavailable) is offered the batch again this often, whatever
# its failure backoff has grown to: it is alive, and it takes events again as soon as it has room.
BUSY_RETRY_SECONDS = 1.0


class PartitionWorker:
    def __init__(self, runner: SinkRunner, lease: Lease, cursor: int, *, store: LeaseStore, reader: LogReader,
                 heads: Callable[[], Mapping[int, int]], new_head: Callable[[], asyncio.Event],
                 observer: Any) -> None:
        settings = runner.settings
        self.runner = runner
        self.lease = lease
        self.cursor = cursor
        self.store = store
        self.reader = reader
        self.heads = heads
        self.new_head = new_head
        self.observer = observer
        self.max_events = int(settings.get("batch_max_events", 1000))
        self.max_seconds = float(settings.get("batch_max_seconds", 0))
        self.keep = event_filter(settings.get("events"))
        self.policy = RetryPolicy.from_settings(settings, initial=1.0, maximum=60.0)
        self.failures = 0
        self.busy_since: float | None = None
        self._delivered_at = 0.0
        self._stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.where = f"sink {runner.name} partition {lease.partition}"

    @property
    def head(self) -> int:
        return self.heads().get(self.lease.partition, 0)

    @property
    def lag(self) -> int:
        return max(0, self.head - self.cursor)

    def start(self, on_exit: Callable[[PartitionWorker, str], None]) -> None:
        self.task = asyncio.create_task(self._run(on_exit), name=self.where)

    async def stop(self, timeout: float) -> None:
        """Let the batch in flight finish (up to ``timeout``), then stop."""
        self._stopping.set()
        if self.task is not None and not self.task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.task), timeout)
            except TimeoutError:
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def _go_on(self) -> bool:
        return not self._stopping.is_set() and self.lease.valid()

    async def _run(self, on_exit: Callable[[PartitionWorker, str], None]) -> None:
        why = "stopped"
        try:
            while self._go_on():
                try:
                    rows = await self._next_rows()
                    if rows and self._go_on():
                        await self._deliver(rows)
                except LeaseLost as exc:
                    why = str(exc)
                    return
                except Exception:  # a storage hiccup must not kill the worker; try again shortly
                    log.exception("%s: delivery loop error", self.where)
                    await self._sleep(1.0)
            if not self.lease.valid() and not self._stopping.is_set():
                why = "its lease could not be renewed in time"
        finally:
            on_exit(self, why)

    async def _next_rows(self) -> list[LogRow]:
        while self._go_on():
            signal = self.new_head()
            pending = self.head - self.cursor
            if pending <= 0:
                await self._sleep(POLL_SECONDS, signal)
                continue
            if self.max_seconds > 0 and pending < self.max_events:
                oldest = await self.reader.oldest_after(self.lease.partition, self.cursor)
                age = time.time() - oldest if oldest is not None else 0.0
                if age < self.max_seconds:
                    await self._sleep(min(self.max_seconds - age, POLL_SECONDS * 4), signal)
                    continue
            elif pending < self.max_events:
                wait = self._delivered_at + LINGER_SECONDS - time.monotonic()
                if wait > 0:
                    await self._sleep(wait)
                    continue
            return await self._read(self.cursor)
        return []

    async def _read(self, after: int) -> list[LogRow]:
        """Up to ``max_events`` rows after ``after``, cut once they hold ``BATCH_MAX_BYTES``."""
        rows: list[LogRow] = []
        size = 0
        while len(rows) < self.max_events and size < BATCH_MAX_BYTES:
            want = min(self.max_events - len(rows), READ_CHUNK_EVENTS if rows else FIRST_READ_EVENTS)
            if rows:  # not more rows than the bytes left hold, at the average size so far
                want = min(want, max(1, (BATCH_MAX_BYTES - size) * len(rows) // size))
            chunk = await self.reader.read(self.lease.partition, after, want)
            rows.extend(chunk)
            size += sum(len(event) for _, event in chunk)
            if len(chunk) < want:
                break
            after, _ = chunk[-1]
        return rows

    async def _deliver(self, rows: list[LogRow]) -> None:
        lease = self.lease
        raw = [event for _, event in rows]
        (first, _), (last, _) = rows[0], rows[-1]
        batch = Batch(first, last, raw, lease.partition, lease.epoch)
        if self.keep is not None:
            kept = [r for r, e in zip(raw, batch.events, strict=True) if self.keep(e)]
            batch = Batch(batch.first_seq, batch.last_seq, kept, lease.partition, lease.epoch)
        name = self.runner.name
        first_failure: float | None = None
        while len(batch):
            try:
                await self.runner.deliver(batch)
                break
            except LeaseLost:
                raise
            except Unavailable as busy:
                # Back-pressure, not a failure (a webhook whose target is down, holding as many batches
                # as it may): the events are safest in the log, so nothing is counted as failed and the
                # batch never expires into a dead letter for it; it goes to the sink once it has room.
                first_failure = None
                if self.busy_since is None:
                    self.busy_since = time.monotonic()
                    log.info("sink %s is busy, %d events wait in the log (partition %d): %s", name, len(batch),
                             lease.partition, busy.message)
                await self._sleep(BUSY_RETRY_SECONDS)
                if not self._go_on():
                    return
            except Exception as exc:
                now = time.monotonic()
                first_failure = first_failure or now
                self.failures += 1
                error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("sink %s failed to take %d events (partition %d): %s", name, len(batch),
                            lease.partition, error)
                self.observer.sink_failed(name, error)
                if self.policy.expired(first_failure, now):
                    await self.store.dead_letter(name, lease.partition, batch.first_seq, batch.last_seq,
                                                 list(batch.raw), error)
                    break
                await self._sleep(self.policy.delay(self.failures))
                if not self._go_on():
                    return  # the batch stays behind the cursor; the lease's next holder retries it
        self.failures = 0
        if self.busy_since is not None:
            log.info("sink %s takes events again after %.1f s busy (partition %d)", name,
                     time.monotonic() - self.busy_since, lease.partition)
            self.busy_since = None
        await self._advance(last)
        self.cursor = last
        self._delivered_at = time.monotonic()
        self.observer.delivered(name, len(batch), batch.duplicates)

    async def _advance(self, seq: int) -> None:
        """Move the cursor, waiting out a database error while the lease lasts: reading the batch
        again instead would deliver it twice."""
        lease = self.lease
        while True:
            try:
                if await self.store.advance(self.runner.name, lease.partition, lease.epoch, seq):
                    return
                raise LeaseLost(f"{self.where}: epoch {lease.epoch} was superseded")
            except LeaseLost:
                raise
            except Exception as exc:
                if not lease.valid():
                    raise LeaseLost(f"{self.where}: the cursor could not be stored before the lease ran out"
                                    ) from exc
                log.warning("%s: storing the cursor failed, retrying: %s", self.where,
                            str(exc).splitlines()[0][:200])
                await asyncio.sleep(0.5)
