"""What a delivery process reports with each heartbeat (counters, errors, stuck sinks, housekeeping),
read back by any process for /metrics, the status API and ``gateway status``."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

log = logging.getLogger("gateway.delivery")


def settings_fingerprint(settings: dict[str, Any]) -> str:
    """A short digest of a runtime sink's settings as stored: a process reports the one it runs, so an
    API change can wait until every delivery process applies it (no secret leaves in the clear)."""
    return hashlib.sha256(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


@dataclass
class SinkReport:
    delivered: int = 0
    duplicates: int = 0  # handed to the sink but skipped by it as already held (not in ``delivered``)
    failures: int = 0
    last_error: str | None = None
    stuck_seconds: float = 0.0


@dataclass
class Report:
    sinks: dict[str, SinkReport] = field(default_factory=dict)
    housekeeping: dict[str, float] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)  # runtime sink -> fingerprint of what runs

    def sink(self, name: str) -> SinkReport:
        found = self.sinks.get(name)
        if found is None:
            found = self.sinks[name] = SinkReport()
        return found

    def delivered(self, sink: str, events: int, duplicates: int = 0) -> None:
        """``events`` handed to the sink, of which it skipped ``duplicates`` as already held."""
        report = self.sink(sink)
        report.delivered += events - duplicates
        report.duplicates += duplicates

    def sink_failed(self, sink: str, error: str) -> None:
        report = self.sink(sink)
        report.failures += 1
        report.last_error = error

    def count(self, key: str, amount: float = 1.0) -> None:
        self.housekeeping[key] = self.housekeeping.get(key, 0.0) + amount

    def gauge(self, key: str, value: float) -> None:
        self.housekeeping[key] = value

    def as_dict(self, leases: list[tuple[str, int, int]]) -> dict[str, Any]:
        return {"sinks": {n: vars(r) for n, r in self.sinks.items()}, "housekeeping": dict(self.housekeeping),
                "leases": [list(lease) for lease in leases], "settings": dict(self.settings)}
