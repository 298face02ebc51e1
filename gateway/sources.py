"""An event source: a named, keyed producer of events in one dialect."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.canonical import SourceRef

_SOURCE_NAMESPACE = uuid.UUID("6f1b5a1e-4c1e-4a8e-9a55-2f1c0f8b7d21")


def source_id(name: str) -> str:
    """A stable id per source name, so the id survives restarts and config reloads."""
    return str(uuid.uuid5(_SOURCE_NAMESPACE, name))


@dataclass(frozen=True)
class Source:
    """A validated ``[[sources]]`` table (or one created through the admin API)."""

    name: str
    dialect: str
    settings: Mapping[str, Any]
    batch_mode: str = "partial"
    max_event_bytes: int = 32 * 1024
    max_request_bytes: int = 4 * 1024 * 1024
    max_events_per_request: int = 20_000
    origin: str = "config"
    # Browser origins this source takes events from (normalized); empty: those the server allows.
    allowed_origins: frozenset[str] = frozenset()
    id: str = field(default="")
    ref: SourceRef = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", source_id(self.name))
        object.__setattr__(self, "ref", SourceRef(id=self.id, name=self.name, dialect=self.dialect))

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)
