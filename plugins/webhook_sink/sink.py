"""The webhook sink: ``deliver`` stores the batch; its sender posts it.

Returning from ``deliver`` once the batch is stored lets the core advance its cursor while the
target is slow or down, so one failing batch never holds up the next (no head-of-line blocking),
and the batch keeps one id for all its attempts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from gateway import Batch, RetryPolicy, SinkContext, Unavailable

from . import store
from .envelopes import canonical_array
from .sender import Sender
from .settings import RETRY_FOR_SECONDS, RETRY_INITIAL_SECONDS, WebhookSettings


def retry_policy(settings: Mapping[str, Any]) -> RetryPolicy:
    return RetryPolicy.from_settings(settings, initial=RETRY_INITIAL_SECONDS, window=RETRY_FOR_SECONDS)


class WebhookSink:
    def __init__(self, settings: Mapping[str, Any], ctx: SinkContext) -> None:
        self.ctx = ctx
        self.settings = WebhookSettings.from_mapping(ctx.name, settings)
        store.sync_when_the_cursor_does(ctx.database)
        self.sender = Sender(self.settings, retry_policy(settings), ctx.database, ctx.logger, ctx.leases,
                             ctx.attempt_failed)
        # Per partition: the epoch we last delivered under and the highest seq stored then.
        self._stored_up_to: dict[int, tuple[int, int | None]] = {}

    async def start(self) -> None:
        await store.ensure_tables(self.ctx.database)
        await self.sender.start()

    async def stop(self) -> None:
        await self.sender.stop()

    async def deliver(self, batch: Batch) -> None:
        if not len(batch):
            return
        engine = self.ctx.database.engine
        # A crash (or a lease lost) between our commit and the core's cursor update hands the same
        # events again, to us or to the lease's next holder: read what is stored once per epoch.
        known = self._stored_up_to.get(batch.partition)
        if known is None or known[0] != batch.epoch:
            known = (batch.epoch, await store.highest_seq(engine, self.ctx.name, batch.partition))
            self._stored_up_to[batch.partition] = known
        if known[1] is not None and batch.last_seq <= known[1]:
            batch.duplicates = len(batch)  # already stored (and sent or on its way): counted as such
            return
        waiting = await store.count_waiting(engine, self.ctx.name)
        if waiting >= self.settings.max_pending_batches:
            # Past this the durable log is the better buffer: the core keeps the events and retries us.
            raise Unavailable(f"webhook {self.ctx.name}: {waiting} batches already wait for the target")
        payload = canonical_array(batch.raw)
        batch_id = str(uuid.uuid4())
        self.sender.keep(batch_id, batch.partition, payload)
        try:
            await store.insert(engine, batch_id, self.ctx.name, len(batch), batch.first_seq, batch.last_seq,
                               payload, partition=batch.partition,
                               epoch=batch.epoch or None)  # epoch 0: not under a lease (used alone)
        except BaseException:
            self.sender.take_fresh(batch_id)  # not stored: never to be sent
            raise
        self._stored_up_to[batch.partition] = (batch.epoch, batch.last_seq)
        self.sender.wake()
