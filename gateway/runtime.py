"""The running ingest side of the gateway: services built once at start-up, and their lifecycle.

An ingest process authenticates, validates and commits; it never runs sink code (delivery
processes do, see ``gateway.delivery``). Plugins reach it as ``request.app.state.gateway``.
Its parts, one job each: the sources and their keys (here), the sinks it knows
(``SinkCatalog``), the durable log (``DurableLog``), delivery as seen from outside (``DeliveryView``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from gateway.auth import AuthService
from gateway.canonical import CanonicalEvent
from gateway.clientip import parse_networks
from gateway.config import Config, SinkConfig
from gateway.cors import CorsPolicy
from gateway.delivery.leases import LeaseStore
from gateway.delivery.view import DeliveryView
from gateway.limits import RateLimiter
from gateway.metrics import Metrics
from gateway.request_log import RequestLog
from gateway.sink_catalog import SinkCatalog
from gateway.sinks import Sink
from gateway.sources import Source
from gateway.storage.database import Database, state_url
from gateway.storage.log import DurableLog
from gateway.storage.queries import LogReader
from gateway.storage.state_tables import state_metadata
from gateway.storage.upgrade import upgrade

log = logging.getLogger("gateway")


class Gateway:
    def __init__(self, config: Config) -> None:
        assert config.hooks is not None
        self.config = config
        self.hooks = config.hooks
        self.dialects = self.hooks.dialects()
        self.sink_types = self.hooks.sink_types()
        self.metrics = Metrics()
        self.request_log = RequestLog()
        self.auth = AuthService()
        self.limiter = RateLimiter()
        self.cors = CorsPolicy(config.server.cors_origins)
        self.trusted_proxies = parse_networks(config.server.trusted_proxies)
        self.transform: Callable[[CanonicalEvent, Source], CanonicalEvent | None] | None = \
            self.hooks.transformer()
        self.sources: dict[str, Source] = {}
        for source in config.sources:
            self.add_source(source)
        storage = config.storage
        self.database = Database(storage.url, config.config_dir, synchronous=storage.synchronous)
        url = state_url(self.database.url)
        self.state_database = self.database if url == self.database.url else \
            Database(url, config.config_dir, synchronous=storage.synchronous)
        partitions = storage.partitions or (1 if self.database.is_sqlite else 8)
        self.durable = DurableLog(self.database, partitions=partitions, max_events=storage.group_commit_max_events,
                                  unavailable_after=storage.unavailable_after_seconds, observer=self.metrics)
        self.reader = LogReader(self.database)
        self.sinks = SinkCatalog(config.sinks, self.sink_types, self.database, self.state_database)
        self.delivery = DeliveryView(LeaseStore(self.state_database, owner=""), self.reader)
        self.metrics.watch_delivery(lambda: self.delivery.current)
        # Services another package attaches (the admin's runtime sources): started and followed here.
        self.services: list[tuple[Callable[[], Coroutine[Any, Any, None]],
                                 Callable[[], Coroutine[Any, Any, None]] | None]] = []
        self.runtime_sources: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- sources -------------------------------------------------------------------------------
    def add_source(self, source: Source, extra_keys: Sequence[tuple[str, float | None]] = ()) -> None:
        self.sources[source.name] = source
        for key in self.dialects[source.dialect].credentials(source.settings):
            self.auth.add(source, key)
        for key, expires_at in extra_keys:
            self.auth.add(source, key, expires_at)

    def remove_source(self, name: str) -> None:
        self.sources.pop(name, None)
        self.auth.remove_source(name)

    def request_limit(self, dialect: str) -> int:
        """The body cap before the source is known (body-key auth): the largest of the dialect's sources."""
        limits = [s.max_request_bytes for s in self.sources.values() if s.dialect == dialect]
        return max(limits) if limits else self.dialects[dialect].max_request_bytes

    # -- sinks (recorded here, run by delivery processes) ---------------------------------------
    def sink_configs(self) -> list[SinkConfig]:
        return self.sinks.all()

    def sink(self, name: str) -> Sink | None:
        """No sink object lives in an ingest process: sinks run in delivery processes."""
        return None

    async def add_sink(self, name: str, type_: str, settings: dict[str, Any]) -> SinkConfig:
        sink_config = await self.sinks.add(name, type_, settings)
        if sink_config.settings.get("start", "now") == "now":
            # "now" is when the API made the sink, not when a delivery process first reads it: a restart
            # in between would otherwise skip the events that came meanwhile.
            for partition, head in (await self.reader.heads()).items():
                await self.delivery.store.add(name, partition, head)
        return sink_config

    async def update_sink(self, name: str, settings: dict[str, Any]) -> SinkConfig:
        from gateway.delivery.report import settings_fingerprint

        sink_config = await self.sinks.update(name, settings)
        # Delivery runs in other processes: answer once they run the change, so events acknowledged
        # after this answer never go out with the old settings (a changed target, a removed filter).
        await self.delivery.wait_applied(name, settings_fingerprint(dict(sink_config.settings)))
        return sink_config

    async def remove_sink(self, name: str) -> None:
        await self.sinks.remove(name)

    # -- lifecycle -----------------------------------------------------------------------------
    async def _follow_sinks(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            try:
                await self.sinks.refresh()
            except Exception as exc:
                log.warning("reading runtime sinks failed, retrying: %s", type(exc).__name__)

    async def start(self) -> None:
        await upgrade(self.database, self.state_database, self.hooks.storage_upgrades())
        await self.durable.start()
        await self.state_database.create_all(state_metadata)
        await self.sinks.refresh()
        for start, follow in self.services:
            await start()
            if follow is not None:
                self._tasks.append(asyncio.create_task(follow(), name="service"))
        self._tasks.append(asyncio.create_task(self._follow_sinks(), name="runtime-sinks"))
        self._tasks.append(asyncio.create_task(self.delivery.follow(), name="delivery-view"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.durable.close()
        await self.database.dispose()
        if self.state_database is not self.database:
            await self.state_database.dispose()
