"""Sink plugin ``kafka``: every canonical event produced to a Kafka topic (or a topic per event type),
keyed per user, at least once. Needs ``pip install 'event-gateway[kafka]'``. See README.md."""

from __future__ import annotations

from collections.abc import Callable

from gateway import SinkType, hookimpl
from plugins.kafka_sink.settings import SECRET_FIELDS, SINK_TYPE, config_schema
from plugins.kafka_sink.sink import KafkaSink


@hookimpl
def register_sinks(register: Callable[[SinkType], None]) -> None:
    register(SinkType(
        name=SINK_TYPE,
        factory=KafkaSink.from_settings,
        config_schema=config_schema(),
        # Kafka's producer batches by itself; a larger batch per deliver() costs one wait for acks.
        defaults={"batch_max_events": 5000},
        secret_fields=SECRET_FIELDS,
        description="Produces each canonical event to a Kafka topic, keyed per user; acknowledged before "
                    "the cursor moves",
    ))
