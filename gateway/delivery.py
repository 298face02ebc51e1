"""The delivery engine: one worker per sink, each reading the log from its own cursor.

A worker cuts a batch (``batch_max_events`` or ``batch_max_seconds``, whichever first), hands it
to its sink, and advances its cursor only after ``deliver`` returns. A failing or hanging sink
only holds up its own worker: ingestion and other sinks go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from gateway.retry import RetryPolicy
from gateway.sinks import Batch, Sink, event_filter
from gateway.storage.log import DurableLog
from gateway.storage.queries import LogReader

log = logging.getLogger("gateway.delivery")

POLL_SECONDS = 0.25  # how often to look for events committed by another process
# A sink without batch_max_seconds that delivered less than this ago waits out the rest before taking
# a part batch: under load it would otherwise make a delivery (a transaction or a request of its own)
# for each group commit, a few events each, on the CPU ingestion needs. An idle sink starts at once.
LINGER_SECONDS = 0.05


class SinkWorker:
    def __init__(self, name: str, sink: Sink, settings: Mapping[str, Any], durable: DurableLog,
                 reader: LogReader, observer: Any = None) -> None:
        self.name = name
        self.sink = sink
        self.durable = durable
        self.reader = reader
        self.observer = observer
        self.max_events = int(settings.get("batch_max_events", 1000))
        self.max_seconds = float(settings.get("batch_max_seconds", 0))
        self.start_at = settings.get("start", "beginning")
        self.keep = event_filter(settings.get("events"))
        self.policy = RetryPolicy.from_settings(settings, initial=1.0, maximum=60.0)
        self.cursor = 0
        self.failures = 0
        self.last_error: str | None = None
        self._delivered_at = 0.0  # time.monotonic() of the last delivery
        self._stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"sink:{self.name}")

    async def stop(self, timeout: float) -> None:
        """Let an in-flight delivery finish (up to ``timeout``), then stop the sink."""
        self._stopping.set()
        if self.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.task), timeout)
            except TimeoutError:
                log.warning("sink %s did not finish within %.0fs; cancelling", self.name, timeout)
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)
        stop = getattr(self.sink, "stop", None)
        if stop is not None:
            try:
                await stop()
            except Exception:  # one sink's failure to stop must not keep the others from stopping
                log.exception("sink %s failed to stop", self.name)

    @property
    def lag(self) -> int:
        return max(0, self.durable.head - self.cursor)

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        """Sleep, but wake at once for shutdown (and for ``wake`` when given)."""
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _start_sink(self) -> bool:
        """Await the sink's ``start()``, retrying with the sink's backoff until it works or we stop.

        A sink that cannot start (its database down, a newer schema) must say so at once and keep
        trying, while ingestion and the other sinks go on.
        """
        start = getattr(self.sink, "start", None)
        failures = 0
        while start is not None and not self._stopping.is_set():
            try:
                await start()
                return True
            except Exception as exc:
                failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("sink %s cannot start: %s", self.name, self.last_error)
                if self.observer is not None:
                    self.observer.sink_failed(self.name)
                await self._sleep(self.policy.delay(failures))
        return not self._stopping.is_set()

    async def _run(self) -> None:
        if not await self._start_sink():
            return
        self.cursor = await self.reader.cursor(self.name, self.start_at, self.durable.head)
        ahead: asyncio.Task[list[Any]] | None = None  # the next batch, read while the sink takes this one
        ahead_from = -1
        try:
            while not self._stopping.is_set():
                try:
                    task, ahead = ahead, None
                    if task is not None and ahead_from == self.cursor:
                        rows = await task
                    else:
                        if task is not None:  # the cursor did not get there (an error): read afresh
                            await asyncio.gather(task, return_exceptions=True)
                        rows = await self._next_rows()
                    if rows:
                        if self.durable.head - rows[-1].seq >= self.max_events:
                            # A backlog: reading the next full batch overlaps this one's delivery.
                            ahead_from = rows[-1].seq
                            ahead = asyncio.create_task(self.reader.read(ahead_from, self.max_events))
                        await self._deliver(rows)
                except Exception:  # a storage hiccup must not kill the worker; try again shortly
                    log.exception("sink %s: delivery loop error", self.name)
                    await self._sleep(1.0)
        finally:
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)

    async def _next_rows(self) -> list[Any]:
        while not self._stopping.is_set():
            signal = self.durable.committed_signal()
            if self.durable.head <= self.cursor:
                # Another process may have committed: refresh the head now and then.
                await self._sleep(POLL_SECONDS, signal)
                if self.durable.head <= self.cursor:
                    self.durable.head = max(self.durable.head, await self.durable.max_seq())
                continue
            pending = self.durable.head - self.cursor
            if self.max_seconds > 0 and pending < self.max_events:
                oldest = await self.reader.oldest_after(self.cursor)
                age = time.time() - oldest if oldest is not None else 0.0
                if age < self.max_seconds:
                    await self._sleep(min(self.max_seconds - age, POLL_SECONDS * 4), signal)
                    continue
            elif pending < self.max_events:
                wait = self._delivered_at + LINGER_SECONDS - time.monotonic()
                if wait > 0:
                    await self._sleep(wait)
                    continue
            return await self.reader.read(self.cursor, self.max_events)
        return []

    async def _deliver(self, rows: list[Any]) -> None:
        raw = [r.event for r in rows]
        batch = Batch(rows[0].seq, rows[-1].seq, raw)
        if self.keep is not None:
            kept = [r for r, e in zip(raw, batch.events, strict=True) if self.keep(e)]
            batch = Batch(batch.first_seq, batch.last_seq, kept)
        first_failure: float | None = None
        while len(batch):
            try:
                await self.sink.deliver(batch)
                break
            except Exception as exc:
                now = time.monotonic()
                first_failure = first_failure or now
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("sink %s failed to take %d events: %s", self.name, len(batch), self.last_error)
                if self.observer is not None:
                    self.observer.sink_failed(self.name)
                if self.policy.expired(first_failure, now):
                    await self.reader.dead_letter(self.name, batch.first_seq, batch.last_seq,
                                                  list(batch.raw), self.last_error)
                    break
                await self._sleep(self.policy.delay(self.failures))
                if self._stopping.is_set():
                    return  # the batch stays behind the cursor; it is retried after a restart
        self.failures = 0
        await self.reader.set_cursor(self.name, batch.last_seq)
        self.cursor = batch.last_seq
        self._delivered_at = time.monotonic()
        if self.observer is not None:
            self.observer.delivered(self.name, len(batch), batch.duplicates)


class DeliveryEngine:
    def __init__(self, durable: DurableLog, reader: LogReader, observer: Any = None) -> None:
        self.durable = durable
        self.reader = reader
        self.observer = observer
        self.workers: dict[str, SinkWorker] = {}

    def add(self, name: str, sink: Sink, settings: Mapping[str, Any]) -> SinkWorker:
        worker = SinkWorker(name, sink, settings, self.durable, self.reader, self.observer)
        self.workers[name] = worker
        worker.start()
        return worker

    async def remove(self, name: str, timeout: float = 10.0) -> None:
        worker = self.workers.pop(name, None)
        if worker is not None:
            await worker.stop(timeout)

    async def stop(self, timeout: float) -> None:
        await asyncio.gather(*(w.stop(timeout) for w in self.workers.values()))
        self.workers.clear()
