"""A test-only sink writing events to a file, steered by a control file: "" ok, "fail", "busy" or "hang".

``start_delay_seconds`` makes its start take that long, as a sink's that connects somewhere first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gateway import Batch, SinkContext, SinkType, Unavailable, hookimpl


class FileSink:
    def __init__(self, path: Path, control: Path, start_delay: float = 0.0) -> None:
        self.path = path
        self.control = control
        self.start_delay = start_delay

    async def start(self) -> None:
        await asyncio.sleep(self.start_delay)

    async def deliver(self, batch: Batch) -> None:
        mode = self.control.read_text().strip() if self.control.exists() else ""
        if mode == "fail":
            raise RuntimeError("told to fail")
        if mode == "busy":  # back-pressure, as a webhook sink holding all the batches it may
            raise Unavailable("told to be busy")
        if mode == "hang":
            while (self.control.read_text().strip() if self.control.exists() else "") == "hang":
                await asyncio.sleep(0.05)
        with self.path.open("ab") as out:
            out.write(b"".join(r + b"\n" for r in batch.raw))


def make(settings: Mapping[str, Any], context: SinkContext) -> FileSink:
    path = context.config_dir / settings["path"]
    return FileSink(path, path.with_suffix(".control"), float(settings.get("start_delay_seconds", 0)))


@hookimpl
def register_sinks(register: Callable[[SinkType], None]) -> None:
    register(SinkType(name="file", factory=make,
                      config_schema={"properties": {"path": {"type": "string"},
                                                 "start_delay_seconds": {"type": "number", "minimum": 0}},
                                  "required": ["path"]}))
