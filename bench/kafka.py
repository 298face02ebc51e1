"""Row 5k: Kafka delivery to a local broker (Tansu, as in the tests), beside the webhook row."""

from __future__ import annotations

import time
from pathlib import Path

from bench.configs import Setup
from bench.processes import BenchGateway
from bench.report import Row, number
from tests.support.kafka import Broker, consume, create_topics, tansu_binary

TOPIC = "bench-events"
SINK = f"""[[sinks]]
name = "stream"
type = "kafka"
bootstrap_servers = "{{bootstrap}}"
topic = "{TOPIC}"
start = "beginning"
"""


def kafka_delivery(setup: Setup, directory: Path) -> Row:
    """The whole log the ingestion rows filled, produced from the start as fast as it goes."""
    if "kafka_sink" not in setup.plugins:
        return Row("5k", "Kafka delivery", "n/a (plugin missing)")
    broker = Broker(tansu_binary(), directory).start()
    gateway = BenchGateway(directory, setup.sink_config(SINK.format(bootstrap=broker.bootstrap)), env=setup.env)
    try:
        create_topics(broker, TOPIC, partitions=3)
        backlog = gateway.log_count()
        gateway.start()
        ready, cpu = time.monotonic(), gateway.cpu()
        gateway.wait_sink_drained("stream", timeout=300)
        seconds = max(time.monotonic() - ready, 1e-3)
        cpu_us = 1e6 * (gateway.cpu() - cpu) / max(1, backlog)
        # Counted by reading them back: Tansu's end offsets can run short of what a consumer reads.
        on_topic = len(consume(broker, TOPIC, count=backlog, timeout=120))
    finally:
        gateway.close()
        broker.stop()
    # At least once: more on the topic than logged would be retried batches, fewer would be a loss.
    check = "ok" if on_topic >= backlog else f"{on_topic:,} of {backlog:,} on the topic"
    return Row("5k", "Kafka delivery to a local broker (Tansu), acks=all, 5k-event batches",
               f"{number(backlog / seconds)} events/s ({number(backlog)} logged events in {seconds:.1f} s, "
               f"CPU {cpu_us:.0f} us/event)", check=check)
