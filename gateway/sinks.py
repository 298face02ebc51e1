"""What a sink plugin registers, and what the delivery engine hands it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import orjson

if TYPE_CHECKING:
    from gateway.canonical import CanonicalEvent
    from gateway.storage.database import Database


class Batch:
    """Consecutive events of one partition of the durable log. ``raw`` holds each event's JSON bytes
    as committed. ``partition`` and ``epoch`` name the lease it is delivered under: a sink that
    writes state of its own for the batch fences that write with ``gateway.check_epoch``.

    A sink that recognises events it already holds (a redelivery, or an id its source repeated)
    and skips them sets ``duplicates`` to how many: the core counts those apart from delivered ones.
    """

    __slots__ = ("__dict__", "duplicates", "epoch", "first_seq", "last_seq", "partition", "raw")

    def __init__(self, first_seq: int, last_seq: int, raw: Sequence[bytes], partition: int = 0,
                 epoch: int = 0) -> None:
        self.first_seq = first_seq
        self.last_seq = last_seq
        self.raw = raw
        self.partition = partition
        self.epoch = epoch
        self.duplicates = 0

    @cached_property
    def events(self) -> list[CanonicalEvent]:
        return [orjson.loads(r) for r in self.raw]

    def __len__(self) -> int:
        return len(self.raw)


@runtime_checkable
class Sink(Protocol):
    """A configured sink. ``deliver`` raises to signal failure; the core retries the same batch.

    A sink may also define ``async start()`` and ``async stop()``; the core awaits them.
    """

    async def deliver(self, batch: Batch) -> None: ...


@dataclass(frozen=True)
class SinkContext:
    """What a sink factory gets besides its own table."""

    name: str
    database: Database
    config_dir: Path
    logger: logging.Logger
    # The partitions whose lease this process holds for the sink now, with their epochs.
    leases: Callable[[], dict[int, int]] = field(default=lambda: {0: 0})
    # For a sink that retries on its own after ``deliver`` returned (the webhook sink's stored
    # batches): each failed attempt, reported here, counts in ``gateway_sink_failures`` as a failed
    # ``deliver`` does. Safe to call from the sink's own thread.
    attempt_failed: Callable[[str], None] = field(default=lambda error: None)


@dataclass(frozen=True)
class SinkType:
    """A kind of sink. ``config_schema`` gives JSON Schema ``properties``/``required`` of its own keys;
    ``defaults`` may override the core's batching defaults (``batch_max_events``, ``batch_max_seconds``)."""

    name: str
    factory: Callable[[Mapping[str, Any], SinkContext], Sink]
    config_schema: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    secret_fields: tuple[str, ...] = ()
    description: str = ""
    # What JSON Schema cannot say (a URL that parses, say): called with the sink's table once it
    # passed the schema, at config check, start-up and in any API that makes sinks; it raises
    # ValueError with a message that names the key.
    check: Callable[[Mapping[str, Any]], None] | None = None


def event_filter(types: Sequence[str] | None) -> Callable[[CanonicalEvent], bool] | None:
    """A predicate for a sink's ``events`` filter: ``"track"`` or ``"track:Order Completed"`` entries."""
    if not types:
        return None
    plain = {t for t in types if ":" not in t}
    named = {tuple(t.split(":", 1)) for t in types if ":" in t}

    def keep(event: CanonicalEvent) -> bool:
        t = event.get("type")
        return t in plain or (t, event.get("event")) in named

    return keep
