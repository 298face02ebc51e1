"""Sink plugin ``kafka``: every canonical event produced to a Kafka topic (or a topic per event type),
keyed per user, at least once. Needs ``pip install 'event-gateway[kafka]'``. See README.md."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gateway import SinkContext, SinkType, hookimpl

from .settings import SECRET_FIELDS, SINK_TYPE, config_schema

if TYPE_CHECKING:
    from .sink import KafkaSink


def _factory(settings: Mapping[str, Any], context: SinkContext) -> KafkaSink:
    # imported here: loading the plugin (gateway --help, check) must not pay for asyncio, ssl and the producer
    from .sink import KafkaSink

    return KafkaSink.from_settings(settings, context)


@hookimpl
def register_sinks(register: Callable[[SinkType], None]) -> None:
    register(SinkType(
        name=SINK_TYPE,
        factory=_factory,
        config_schema=config_schema(),
        # Kafka's producer batches by itself; a larger batch per deliver() costs one wait for acks.
        defaults={"batch_max_events": 5000},
        secret_fields=SECRET_FIELDS,
        description="Produces each canonical event to a Kafka topic, keyed per user; acknowledged before "
                    "the cursor moves",
    ))
