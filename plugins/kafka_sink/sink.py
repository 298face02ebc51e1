"""The ``kafka`` sink: every event of a batch produced to its topic; ``deliver`` returns only once the
broker acknowledged every one of them, so the core advances its cursor only then."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gateway import Batch, SinkContext

from .producer import KafkaSinkError, start_producer
from .routing import Router
from .settings import KafkaSettings

# How long a topic the cluster listed is trusted before its metadata is asked for again.
TOPICS_FRESH_SECONDS = 60.0


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A batch that failed early leaves later sends in flight; their outcome no longer matters
    # (the whole batch is retried), but an exception nobody reads would be logged as a bug.
    if not future.cancelled():
        future.exception()


class KafkaSink:
    def __init__(self, settings: KafkaSettings, context: SinkContext) -> None:
        self.settings = settings
        self.context = context
        self.router = Router(settings.topic, settings.key, settings.headers)
        self.producer: Any = None
        self.partitioner: Any = None
        self.idempotent = False
        self._known_topics: dict[str, float] = {}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], context: SinkContext) -> KafkaSink:
        return cls(KafkaSettings.from_mapping(settings), context)

    async def start(self) -> None:
        if self.producer is not None:
            return
        s = self.settings
        self.producer, self.idempotent = await start_producer(s, self.context.config_dir, self.context.logger)
        from aiokafka.partitioner import DefaultPartitioner  # here: aiokafka is an optional extra

        self.partitioner = DefaultPartitioner()
        self.context.logger.info("sink %r: producing to %s at %s (acks=%s, idempotent: %s)", self.context.name,
                                 s.topic, ",".join(s.bootstrap_servers), s.acks, self.idempotent)

    async def stop(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            await producer.stop()  # sends what it holds, then closes

    async def deliver(self, batch: Batch) -> None:
        await self.start()
        if not batch.raw:
            return
        events = batch.events
        router = self.router
        topics = [router.topic(e) for e in events]
        await self._check_topics(set(topics))
        futures: list[asyncio.Future[Any]] = []
        try:
            await self._produce(events, batch.raw, topics, futures)
            await asyncio.gather(*futures)
        except BaseException:
            for future in futures:
                future.add_done_callback(_retrieve)
            raise

    async def _produce(self, events: list[Any], raws: Sequence[bytes], topics: list[str],
                       futures: list[asyncio.Future[Any]]) -> None:
        """Fill one record batch per partition and hand each to the producer as it fills.

        Much cheaper than a ``send()`` per event (aiokafka's own per-message path costs about
        20 us); the partition of a key is what aiokafka's (and Java's) default partitioner picks,
        so keyed messages land where any other Kafka producer would put them.
        """
        producer, router = self.producer, self.router
        partitions = {t: sorted(await producer.partitions_for(t)) for t in set(topics)}
        of_key: dict[tuple[str, bytes], int] = {}
        open_batches: dict[tuple[str, int], Any] = {}
        for event, raw, topic in zip(events, raws, topics, strict=True):
            key = router.key(event)
            if key is None:
                partition = random.choice(partitions[topic])
            else:
                partition = of_key.get((topic, key), -1)
                if partition < 0:
                    partition = of_key[(topic, key)] = self.partitioner(key, partitions[topic], None)
            builder = open_batches.get((topic, partition))
            if builder is None:
                builder = open_batches[(topic, partition)] = producer.create_batch()
            headers = router.header_list(event)
            if builder.append(key=key, value=raw, timestamp=None, headers=headers) is None:
                futures.append(await producer.send_batch(builder, topic, partition=partition))
                builder = open_batches[(topic, partition)] = producer.create_batch()
                if builder.append(key=key, value=raw, timestamp=None, headers=headers) is None:
                    raise KafkaSinkError(f"event {event.get('messageId')} ({len(raw)} bytes) is larger than "
                                         "max_batch_size allows")
        for (topic, partition), builder in open_batches.items():
            if builder.record_count():
                futures.append(await producer.send_batch(builder, topic, partition=partition))

    async def _check_topics(self, topics: set[str]) -> None:
        """Refuse a topic the cluster does not have, unless the self-hoster allows auto-creation.

        A broker that creates topics on first use would otherwise turn a typo in ``topic`` into
        a stray topic that nobody reads: a silent loss. A missing topic fails the batch instead,
        which the core retries with its backoff until the topic exists.
        """
        if self.settings.allow_auto_create_topics:
            return
        now = time.monotonic()
        if all(now - self._known_topics.get(t, -TOPICS_FRESH_SECONDS) < TOPICS_FRESH_SECONDS for t in topics):
            return
        cluster = await self.producer.client.fetch_all_metadata()
        listed = cluster.topics()
        for topic in listed:
            self._known_topics[topic] = now
        missing = sorted(topics - set(listed))
        if missing:
            raise KafkaSinkError(f"topic {', '.join(missing)} does not exist on the cluster (create it, or set "
                                 "allow_auto_create_topics = true if the brokers create topics on first use)")
