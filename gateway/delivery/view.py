"""Delivery as any process sees it (read only): live processes, leases, lag per sink and partition.

The status API, ``gateway status`` and every ingest process's /metrics read it; an ingest process
refreshes it in the background (``follow``), so a scrape never waits for the database.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from gateway.delivery.leases import HOUSEKEEPING, LeaseStore
from gateway.storage.queries import LogReader

log = logging.getLogger("gateway.delivery")
REFRESH_SECONDS = 1.0


@dataclass
class Snapshot:
    now: float = 0.0
    processes: list[dict[str, Any]] = field(default_factory=list)
    leases: list[dict[str, Any]] = field(default_factory=list)
    heads: dict[int, int] = field(default_factory=dict)

    def lag(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for lease in self.leases:
            out[lease["sink"]] = out.get(lease["sink"], 0) + lease["lag"]
        return out

    def totals(self, key: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for process in self.processes:
            for sink, figures in process["report"].get("sinks", {}).items():
                out[sink] = out.get(sink, 0) + figures.get(key, 0)
        return out

    def as_json(self) -> dict[str, Any]:
        return {"processes": [{k: p[k] for k in ("id", "host", "pid", "sinks", "started_at", "expires_at",
                                                 "report")} for p in self.processes],
                "leases": self.leases, "lag": self.lag(), "partitions": sorted(self.heads)}


async def snapshot(store: LeaseStore, reader: LogReader) -> Snapshot:
    now = await store.now()
    processes = await store.processes(now)
    heads = await reader.heads()
    leases = []
    for (sink, partition), row in sorted((await store.rows()).items()):
        if sink == HOUSEKEEPING:
            continue
        leases.append({"sink": sink, "partition": partition, "cursor": row.seq, "epoch": row.epoch,
                       "owner": row.owner if row.expires_at > now else None, "expires_at": row.expires_at,
                       "head": heads.get(partition, 0), "lag": max(0, heads.get(partition, 0) - row.seq)})
    return Snapshot(now, processes, leases, heads)


class DeliveryView:
    def __init__(self, store: LeaseStore, reader: LogReader) -> None:
        self.store = store
        self.reader = reader
        self.current = Snapshot()

    async def refresh(self) -> Snapshot:
        self.current = await snapshot(self.store, self.reader)
        return self.current

    async def wait_applied(self, sink: str, fingerprint: str, timeout: float = 10.0) -> bool:
        """Wait until the live delivery processes run ``sink`` with the settings of ``fingerprint``
        (they re-read runtime sinks every few seconds), so that an API change answered 200 holds for
        every event acknowledged after it. False after ``timeout``, or at once with none alive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                current = await self.refresh()
            except Exception as exc:  # the answer still says the change is stored; delivery follows
                log.warning("cannot read delivery processes: %s", str(exc).splitlines()[0][:200])
                return False
            running = [p["report"].get("settings", {}).get(sink) for p in current.processes]
            if not current.processes:
                return False
            reported = [fp for fp in running if fp is not None]
            if reported and all(fp == fingerprint for fp in reported):
                return True
            if loop.time() > deadline:
                log.warning("sink %r: not every delivery process runs its new settings after %.0fs", sink, timeout)
                return False
            await asyncio.sleep(0.2)

    async def follow(self) -> None:
        failures = 0
        while True:
            try:
                await self.refresh()
                failures = 0
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 30 == 0:
                    log.warning("reading the delivery state failed (%d in a row): %s", failures,
                                str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
            await asyncio.sleep(REFRESH_SECONDS)
