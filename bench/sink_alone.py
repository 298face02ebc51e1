"""The SQLite sink alone: CPU per event to write canonical events, as the core commits them, to a fresh file.

Run by ``bench/run.py`` (row 4c), or on its own: ``python bench/sink_alone.py [EVENTS]``. Only the
sink's public face is used (``SqliteSink(url, context)``, ``start``, ``deliver``, ``stop``), so the
same script measures an older or newer sink when put on ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import bodies  # noqa: E402

BATCH_EVENTS = 1000  # the core's default batch_max_events


def committed_events(n: int) -> list[bytes]:
    """``n`` Segment track events as the core commits them: stamped, skew-corrected, with a source."""
    source = {"id": str(uuid.uuid4()), "name": "backend", "dialect": "segment_style"}
    out = []
    for i in range(n):
        event = bodies.segment_track(i)
        event["context"] = {**event["context"], "ip": "203.0.113.9"}
        stamped = {"messageId": str(uuid.uuid4()), **event, "originalTimestamp": event["timestamp"],
                   "sentAt": bodies.SEND_TIME, "receivedAt": "2024-07-15T07:58:13.377Z", "source": source}
        stamped["timestamp"] = "2024-07-15T07:58:12.757Z"
        out.append(orjson.dumps(stamped))
    return out


async def _deliver_all(directory: Path, raw: list[bytes]) -> float:
    from gateway_plugins.sqlite_sink.sink import SqliteSink

    from gateway import Batch, SinkContext
    from gateway.storage.database import Database

    context = SinkContext(name="events-db", database=Database("sqlite+aiosqlite:///log.db", base_dir=directory),
                          config_dir=directory, logger=logging.getLogger("bench.sink"))
    sink = SqliteSink("sqlite+aiosqlite:///events.db", context)
    await sink.start()
    try:
        cpu = time.process_time()  # the whole process: the sink's own thread included
        for start in range(0, len(raw), BATCH_EVENTS):
            part = raw[start:start + BATCH_EVENTS]
            await sink.deliver(Batch(start + 1, start + len(part), part))
        return time.process_time() - cpu
    finally:
        await sink.stop()
        await context.database.dispose()


def sqlite_sink_cpu_us(events: int = 50_000) -> float:
    """CPU microseconds per event the SQLite sink spends on ``events`` events, in batches of 1,000."""
    raw = committed_events(events)
    with tempfile.TemporaryDirectory(prefix="bench-sink-") as directory:
        seconds = asyncio.run(_deliver_all(Path(directory), raw))
    return 1e6 * seconds / events


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    print(f"SQLite sink alone: {sqlite_sink_cpu_us(count):.1f} us/event over {count:,} events")
