"""The stdout sink: one canonical event per line, as JSON, on standard output.

The gateway's own logs go to standard error, so standard output carries nothing but events.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from gateway import Batch, SinkContext, SinkType, hookimpl


class StdoutSink:
    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    async def deliver(self, batch: Batch) -> None:
        # One write per batch; the events are written exactly as committed, no re-encoding.
        self.stream.write(b"\n".join(batch.raw) + b"\n")
        self.stream.flush()


def make_stdout_sink(settings: Mapping[str, Any], context: SinkContext) -> StdoutSink:
    return StdoutSink(sys.stdout.buffer)


@hookimpl
def register_sinks(register: Callable[[SinkType], None]) -> None:
    register(SinkType(name="stdout", factory=make_stdout_sink,
                      description="Writes each canonical event as one line of JSON to standard output."))
