"""The sender: posts a webhook's due batches, several at once, and records every outcome.

It reads its work from the batch table rather than a queue in memory, so batches stored before
a crash, retries that come due and replays made by the CLI of another process all arrive the same
way. A failed batch only waits for its own next attempt: newer batches keep going meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import httpx
from sqlalchemy.exc import SQLAlchemyError

from gateway import Database, RetryPolicy

from . import attempt, store
from .settings import WebhookSettings

POLL_SECONDS = 1.0  # picks up replays and retries that came due; new batches wake it at once
PURGE_EVERY_SECONDS = 1.0
PRUNE_EVERY_SECONDS = 600.0
KEEP_DELIVERED_SECONDS = 86400.0
RECORD_RETRY_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)
# Bodies of just-stored batches kept in memory for their first attempt, at most this many bytes, and for
# this long: a batch not sent by then (a target behind, a lease gone, a batch deleted) is read back.
MAX_FRESH_BYTES = 32 * 1024 * 1024
FRESH_SECONDS = 30.0


class Sender:
    def __init__(self, settings: WebhookSettings, policy: RetryPolicy, database: Database,
                 logger: logging.Logger, leases: Callable[[], dict[int, int]] = lambda: {0: 0},
                 attempt_failed: Callable[[str], None] = lambda error: None,
                 fresh_seconds: float = FRESH_SECONDS) -> None:
        self.settings = settings
        self.fresh_seconds = fresh_seconds
        self.attempt_failed = attempt_failed
        # Partitions -> epochs this process holds: it sends only their batches, and records an outcome
        # only while the epoch still holds (a zombie's late outcome is refused; the new holder resends).
        self.leases = leases
        self.policy = policy
        self.engine = database.engine
        self.log = logger
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_flight: dict[str, asyncio.Task[None]] = {}  # one per batch being sent and recorded
        self._posts: dict[str, asyncio.Future[attempt.Outcome]] = {}  # the HTTP part of those
        # Bodies of batches just stored, so their first attempt skips reading them back: id ->
        # (kept at, partition, body), oldest first.
        self._fresh: dict[str, tuple[float, int, bytes]] = {}
        self._fresh_bytes = 0
        self._purgeable: list[str] = []  # delivered batches whose payload is still stored
        self._purged_at = 0.0
        self._pruned_at = 0.0
        # Batches whose send raised before an outcome could be recorded (a database fault while
        # reading the payload, say): left out of the due ones for a while, never retried at once.
        self._resting: dict[str, float] = {}

    async def start(self) -> None:
        self._purgeable = await store.delivered_with_payload(self.engine, self.settings.name)
        self._client = attempt.new_client(self.settings)
        self._task = asyncio.create_task(self._run(), name=f"webhook:{self.settings.name}")

    async def stop(self) -> None:
        """Stop without waiting for the target: attempts under way are abandoned (their batches stay
        waiting and are sent after a restart), but no database write is cut off halfway."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        for post in list(self._posts.values()):
            post.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        with contextlib.suppress(SQLAlchemyError):
            await self._purge(now=True)

    def keep(self, batch_id: str, partition: int, payload: bytes) -> None:
        """Keep the body of a batch about to be stored for its first attempt, if a free attempt slot
        will send it soon (and within a byte bound: a 10k-event batch is megabytes). A sender behind
        its target reads bodies back instead of holding them while they wait. Kept before the batch's
        row commits: the sender may pick the batch the moment it does, and a body kept after that
        would never be taken."""
        if (len(self._in_flight) + len(self._fresh) < self.settings.max_in_flight
                and self._fresh_bytes + len(payload) <= MAX_FRESH_BYTES):
            self._fresh[batch_id] = (time.monotonic(), partition, payload)
            self._fresh_bytes += len(payload)

    def take_fresh(self, batch_id: str) -> bytes | None:
        kept = self._fresh.pop(batch_id, None)
        if kept is None:
            return None
        self._fresh_bytes -= len(kept[2])
        return kept[2]

    def _drop_stale(self, held: dict[int, int]) -> None:
        """Bodies not taken in time, or of a partition no longer held here, are read back if ever sent."""
        oldest = time.monotonic() - self.fresh_seconds
        for batch_id, (kept_at, partition, _) in list(self._fresh.items()):
            if kept_at < oldest or partition not in held:
                self.take_fresh(batch_id)

    def wake(self) -> None:
        """New work: a batch was stored, or one can be sent again."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._fill()
                await self._purge()
                await self._prune()
            except Exception:  # the database being busy must not end deliveries for good
                self.log.exception("webhook %s: sender loop error", self.settings.name)
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
            # arrives as the wait ends.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()

    async def _fill(self) -> None:
        free = self.settings.max_in_flight - len(self._in_flight)
        if free <= 0 or self._stopping:
            return
        held = self.leases()
        self._drop_stale(held)
        if not held:
            return
        now = time.monotonic()
        self._resting = {k: until for k, until in self._resting.items() if until > now}
        busy = [*self._in_flight, *self._resting]
        rows = await store.due(self.engine, self.settings.name, time.time(), free, busy, sorted(held))
        for row in rows:
            self._in_flight[row.id] = asyncio.create_task(self._send(row), name=f"webhook-batch:{row.id}")

    async def _send(self, row: store.Due) -> None:
        try:
            payload = self.take_fresh(row.id) or await store.payload(self.engine, row.id)
            if payload is None or self._stopping or row.partition not in self.leases():
                return  # deleted meanwhile, shutting down, or the partition's lease is gone
            assert self._client is not None
            post = self._posts[row.id] = asyncio.ensure_future(
                attempt.post(self._client, self.settings, row.id, payload))
            try:
                outcome = await post
            except asyncio.CancelledError:
                if self._stopping:
                    return  # abandoned, not failed: the batch stays as it was
                raise
            finally:
                self._posts.pop(row.id, None)
            await self._record_patiently(row, outcome)
        except Exception:
            self.log.exception("webhook %s: batch %s could not be sent", self.settings.name, row.id)
            self._resting[row.id] = time.monotonic() + self.policy.delay(row.attempts + 1, None)
        finally:
            self._in_flight.pop(row.id, None)
            self._wake.set()

    async def _record_patiently(self, row: store.Due, outcome: attempt.Outcome) -> None:
        """Record an outcome, waiting out a busy database: an unrecorded success is sent again."""
        for wait in RECORD_RETRY_WAITS:
            if self._stopping:
                break  # one try only: shutdown must not wait out a broken database
            try:
                await self._record(row, outcome)
                return
            except SQLAlchemyError as exc:
                self.log.warning("webhook %s: recording batch %s waits for the database: %s",
                                 self.settings.name, row.id, exc.__class__.__name__)
                await asyncio.sleep(wait)
        await self._record(row, outcome)

    async def _record(self, row: store.Due, outcome: attempt.Outcome) -> None:
        epoch = self.leases().get(row.partition)
        if epoch is None:
            self.log.warning("webhook %s: batch %s: lease of partition %d lost; its next holder sends it",
                             self.settings.name, row.id, row.partition)
            return
        fence = (self.settings.name, row.partition, epoch) if epoch else None  # 0: not under a lease
        if outcome.ok:
            assert outcome.status is not None
            await store.record_success(self.engine, row.id, outcome.status, fence)
            self._purgeable.append(row.id)
            return
        self.attempt_failed(outcome.error or f"HTTP {outcome.status}")
        now = time.time()
        first_failure = row.first_failure_at or now
        failures = row.attempts + 1
        next_at: float | None = now + self.policy.delay(failures, outcome.retry_after)
        if self.policy.expired(first_failure, now):
            next_at = None
            self.log.error("webhook %s: batch %s is dead after %d attempts: %s",
                           self.settings.name, row.id, failures, outcome.error)
        else:
            self.log.warning("webhook %s: batch %s attempt %d failed: %s",
                             self.settings.name, row.id, failures, outcome.error)
        await store.record_failure(self.engine, row.id, status=outcome.status, error=outcome.error or "",
                                   first_failure_at=first_failure, next_attempt_at=next_at, fence=fence)

    async def _purge(self, *, now: bool = False) -> None:
        # Freeing payloads one commit at a time would cost a commit per batch: one commit a
        # second frees all the batches delivered meanwhile.
        if not self._purgeable or (not now and time.monotonic() - self._purged_at < PURGE_EVERY_SECONDS):
            return
        self._purged_at = time.monotonic()
        ids, self._purgeable = self._purgeable, []
        try:
            await store.purge(self.engine, ids)
        except SQLAlchemyError:
            self._purgeable.extend(ids)
            raise

    async def _prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            await store.prune_delivered(self.engine, self.settings.name, time.time() - KEEP_DELIVERED_SECONDS)
