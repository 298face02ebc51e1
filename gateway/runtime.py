"""The running gateway: services built once at start-up, sinks and their workers, lifecycle.

Plugins reach it as ``request.app.state.gateway``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Sequence
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.admin import SourceRegistry
from gateway.auth import AuthService
from gateway.canonical import CanonicalEvent
from gateway.clientip import parse_networks
from gateway.config import Config, ConfigError, SinkConfig, validate_sink
from gateway.cors import CorsPolicy
from gateway.delivery import DeliveryEngine
from gateway.errors import GatewayError
from gateway.limits import RateLimiter
from gateway.metrics import Metrics
from gateway.request_log import RequestLog
from gateway.sinks import Sink, SinkContext
from gateway.sources import Source
from gateway.storage.database import Database
from gateway.storage.log import DurableLog
from gateway.storage.queries import LogReader, RuntimeSinks

log = logging.getLogger("gateway")

PRUNE_EVERY_SECONDS = 60.0
LEADER_LOCK_KEY = 0x6761_7465  # PostgreSQL advisory lock ids; any constant unique to this program
RECONCILE_EVERY_SECONDS = 2.0


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
        self.durable = DurableLog(self.database, max_events=storage.group_commit_max_events,
                                  unavailable_after=storage.unavailable_after_seconds, observer=self.metrics)
        self.reader = LogReader(self.database)
        self.delivery = DeliveryEngine(self.durable, self.reader, self.metrics)
        self.runtime_sinks = RuntimeSinks(self.database)
        self.runtime_sources = SourceRegistry(self)
        self._sink_configs: dict[str, SinkConfig] = {s.name: s for s in config.sinks}
        self._sinks: dict[str, Sink] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._lock_file: IO[str] | None = None
        self._lead_conn: AsyncConnection | None = None
        self.is_leader = False
        self.metrics.watch_lag(lambda: {n: w.lag for n, w in self.delivery.workers.items()})

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

    # -- sinks ---------------------------------------------------------------------------------
    def sink_configs(self) -> list[SinkConfig]:
        return list(self._sink_configs.values())

    def sink(self, name: str) -> Sink | None:
        return self._sinks.get(name)

    def _start_sink(self, sink_config: SinkConfig) -> None:
        sink_type = self.sink_types[sink_config.type]
        context = SinkContext(name=sink_config.name, database=self.database, config_dir=self.config.config_dir,
                              logger=logging.getLogger(f"gateway.sink.{sink_config.name}"))
        sink = sink_type.factory(sink_config.settings, context)
        self._sinks[sink_config.name] = sink
        self.delivery.add(sink_config.name, sink, sink_config.settings)

    async def _stop_sink(self, name: str) -> None:
        await self.delivery.remove(name, self.config.server.graceful_timeout_seconds)
        self._sinks.pop(name, None)

    def _validate_runtime_sink(self, name: str, type_: str, settings: dict[str, Any]) -> SinkConfig:
        table = {"start": "now", **settings, "name": name, "type": type_}
        try:
            return validate_sink(table, self.sink_types, f"sink {name!r}", origin="api")
        except ConfigError as exc:
            raise GatewayError(str(exc), code="invalid_sink") from None

    async def add_sink(self, name: str, type_: str, settings: dict[str, Any]) -> SinkConfig:
        if name in self._sink_configs:
            raise GatewayError(f"a sink named {name!r} exists already", status=409, code="conflict")
        sink_config = self._validate_runtime_sink(name, type_, settings)
        await self.runtime_sinks.save(name, type_, dict(sink_config.settings))
        self._sink_configs[name] = sink_config
        if self.is_leader:
            self._start_sink(sink_config)
        return sink_config

    async def update_sink(self, name: str, settings: dict[str, Any]) -> SinkConfig:
        current = self._sink_configs.get(name)
        if current is None:
            raise GatewayError(f"no sink named {name!r}", status=404, code="not_found")
        if current.origin == "config":
            raise GatewayError(f"sink {name!r} comes from the config file; change it there", status=409,
                               code="read_only")
        sink_config = self._validate_runtime_sink(name, current.type, settings)
        await self.runtime_sinks.save(name, current.type, dict(sink_config.settings))
        self._sink_configs[name] = sink_config
        if self.is_leader:
            await self._stop_sink(name)
            self._start_sink(sink_config)
        return sink_config

    async def remove_sink(self, name: str) -> None:
        current = self._sink_configs.get(name)
        if current is None:
            raise GatewayError(f"no sink named {name!r}", status=404, code="not_found")
        if current.origin == "config":
            raise GatewayError(f"sink {name!r} comes from the config file; remove it there", status=409,
                               code="read_only")
        await self.runtime_sinks.delete(name)
        self._sink_configs.pop(name, None)
        if name in self._sinks:
            await self._stop_sink(name)
        await self.reader.delete_cursor(name)

    async def _load_runtime_sinks(self) -> None:
        for name, type_, settings in await self.runtime_sinks.all():
            if name in self._sink_configs and self._sink_configs[name].origin == "config":
                log.warning("runtime sink %r is shadowed by the config file's sink of that name", name)
                continue
            if type_ not in self.sink_types:
                log.error("runtime sink %r needs sink type %r, which no loaded plugin provides", name, type_)
                continue
            self._sink_configs[name] = self._validate_runtime_sink(name, type_, settings)

    # -- lifecycle -----------------------------------------------------------------------------
    async def _try_lead(self) -> bool:
        """One process per log runs delivery: whoever holds the lock file next to the SQLite log,
        or PostgreSQL's session advisory lock, held on a connection kept for the process's life."""
        path = self.database.path
        if path is None:
            if self.database.is_sqlite:  # in memory: this process is alone
                self.is_leader = True
                return True
            conn = await self.database.engine.connect()
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY})).scalar()
            if not got:
                await conn.close()
                return False
            self._lead_conn = conn
            self.is_leader = True
            return True
        # A lock file opens at once; it is held for the process's life.
        handle = open(f"{path}.delivery-lock", "a")  # noqa: ASYNC230
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock_file = handle
        self.is_leader = True
        return True

    async def _become_leader(self) -> None:
        log.info("process %d runs delivery for %d sink(s)", os.getpid(), len(self._sink_configs))
        for sink_config in self._sink_configs.values():
            self._start_sink(sink_config)
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))

    async def _wait_to_lead(self) -> None:
        while not await self._try_lead():
            await asyncio.sleep(RECONCILE_EVERY_SECONDS)
        await self._load_runtime_sinks()
        await self._become_leader()

    async def _housekeeping(self) -> None:
        loops = 0
        while True:
            await asyncio.sleep(RECONCILE_EVERY_SECONDS)
            loops += 1
            with contextlib.suppress(Exception):
                await self._reconcile_runtime_sinks()
            if loops * RECONCILE_EVERY_SECONDS >= PRUNE_EVERY_SECONDS:
                loops = 0
                try:
                    await self.reader.prune(self.config.storage.retention_hours * 3600, list(self._sinks))
                except Exception:
                    log.exception("pruning the log failed")

    async def _reconcile_runtime_sinks(self) -> None:
        """Pick up sinks another process added or removed through the API."""
        stored = {name: (t, s) for name, t, s in await self.runtime_sinks.all()}
        for name, (type_, settings) in stored.items():
            running = self._sink_configs.get(name)
            if name in self._sinks and running is not None and running.origin == "api" \
                    and dict(running.settings) != settings:
                # Changed through another worker process's API: restart it with the new settings.
                self._sink_configs[name] = self._validate_runtime_sink(name, type_, settings)
                await self._stop_sink(name)
                self._start_sink(self._sink_configs[name])
                continue
            if name not in self._sinks and type_ in self.sink_types:
                current = self._sink_configs.get(name)
                if current is None or current.origin != "config":
                    self._sink_configs[name] = self._validate_runtime_sink(name, type_, settings)
                    self._start_sink(self._sink_configs[name])
        for name in [n for n, c in self._sink_configs.items() if c.origin == "api" and n not in stored]:
            self._sink_configs.pop(name)
            await self._stop_sink(name)

    async def start(self) -> None:
        await self.durable.start()
        await self.runtime_sources.start()
        self._tasks.append(asyncio.create_task(self.runtime_sources.follow(), name="runtime-sources"))
        await self._load_runtime_sinks()
        if await self._try_lead():
            await self._become_leader()
        else:
            self._tasks.append(asyncio.create_task(self._wait_to_lead(), name="wait-to-lead"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.durable.close()
        await self.delivery.stop(self.config.server.graceful_timeout_seconds)
        if self._lead_conn is not None:
            await self._lead_conn.close()
        await self.database.dispose()
        if self._lock_file is not None:
            self._lock_file.close()
