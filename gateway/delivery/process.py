"""A delivery process: its sinks, its leases, runtime sinks kept in step, until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import signal
from typing import Any

from gateway.config import Config, ConfigError, SinkConfig, validate_sink
from gateway.delivery.coordinator import Coordinator, owner_id
from gateway.delivery.housekeeping import Housekeeper
from gateway.delivery.leases import Lease, LeaseStore
from gateway.delivery.report import Report, settings_fingerprint
from gateway.delivery.runner import SinkRunner
from gateway.storage.database import Database, state_url
from gateway.storage.log import ensure_partitions
from gateway.storage.queries import LogReader, RuntimeSinks
from gateway.storage.tables import core_metadata
from gateway.storage.upgrade import upgrade

log = logging.getLogger("gateway.delivery")

RECONCILE_EVERY_SECONDS = 2.0
M_ARENA_MAX = -8  # mallopt's parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
# Batches are megabytes (a 10k-event webhook body is ~7 MB): from this size up, memory is mapped for
# each and unmapped when freed, rather than taken from a heap that freed batches leave fragmented.
MMAP_THRESHOLD_BYTES = 1024 * 1024


# The delivery state's file takes megabytes per batch from sinks that store batches (the webhook's):
# an automatic checkpoint every 1000 pages would land on the cursor's commit after each such batch.
# Those sinks checkpoint on their own schedule; this bounds the WAL (64 MiB) if they cannot.
STATE_AUTOCHECKPOINT_PAGES = 16384


def partitions_of(config: Config, database: Database) -> int:
    return config.storage.partitions or (1 if database.is_sqlite else 8)


def fewer_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own arena (up to 8 per core); with a thread per sink
    and per SQLite connection passing megabyte batches between them, freed memory stays scattered
    over those arenas: measured, the webhook bench row's peak RSS fell 207 -> 169 MB with two.

    glibc also raises its mmap threshold to the size of each mapped block freed, so after the first
    batch every batch came from the heap: a fixed threshold measured 146-158 -> 139-141 MB peak RSS
    draining 566k events to a webhook, at 3-5 % of that drain's throughput."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, 2)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


class DeliveryProcess:
    def __init__(self, config: Config) -> None:
        assert config.hooks is not None
        fewer_malloc_arenas()  # before the sinks' threads start
        self.config = config
        self.sink_types = config.hooks.sink_types()
        storage = config.storage
        self.log_db = Database(storage.url, config.config_dir, synchronous=storage.synchronous)
        self.state_url = state_url(self.log_db.url)
        self.state_db = self.log_db if self.state_url == self.log_db.url else \
            Database(self.state_url, config.config_dir, synchronous=storage.synchronous,
                     wal_autocheckpoint=STATE_AUTOCHECKPOINT_PAGES)
        self.partitions = partitions_of(config, self.log_db)
        self.store = LeaseStore(self.state_db, owner_id())
        self.reader = LogReader(self.log_db)
        self.runtime_sinks = RuntimeSinks(self.log_db)
        self.report = Report()
        d = config.delivery
        housekeeper = functools.partial(self._housekeeper, retention=storage.retention_hours * 3600,
                                        every=d.prune_every_seconds)
        self.coordinator = Coordinator(self.store, self.reader, lease_seconds=d.lease_seconds,
                                       partitions=self.partitions, graceful=config.server.graceful_timeout_seconds,
                                       report=self.report, housekeeper=housekeeper, siblings=d.workers)
        self.configs: dict[str, SinkConfig] = {}

    def _housekeeper(self, lease: Lease, coordinator: Coordinator, *, retention: float,
                     every: float) -> Housekeeper:
        return Housekeeper(lease, coordinator, log_database=self.log_db, retention_seconds=retention, every=every)

    def _runner(self, sink_config: SinkConfig) -> SinkRunner:
        d = self.config.delivery
        return SinkRunner(sink_config.name, self.sink_types[sink_config.type], sink_config.settings,
                          state_url=self.state_url, config_dir=self.config.config_dir,
                          leases=functools.partial(self.coordinator.held, sink_config.name),
                          stuck_after=d.stuck_after_seconds, deliver_timeout=d.deliver_timeout_seconds,
                          attempt_failed=self._attempt_failed(sink_config.name))

    def _attempt_failed(self, name: str) -> Any:
        loop = asyncio.get_running_loop()

        def failed(error: str) -> None:  # called on the sink's thread: count on this process's loop
            loop.call_soon_threadsafe(self.report.sink_failed, name, error)
        return failed

    def _add(self, sink_config: SinkConfig) -> None:
        self.configs[sink_config.name] = sink_config
        self.coordinator.add_runner(self._runner(sink_config))

    async def start(self) -> None:
        assert self.config.hooks is not None
        await upgrade(self.log_db, self.state_db, self.config.hooks.storage_upgrades())
        await self.log_db.create_all(core_metadata)
        await ensure_partitions(self.log_db, self.partitions)
        await self.store.ensure()
        for sink_config in self.config.sinks:
            if sink_config.name not in self.configs:  # start() is retried until the database answers
                self._add(sink_config)
        await self._reconcile()
        log.info("delivery process %d (%s) runs sink(s) %s over %d partition(s); leases of %.0fs",
                 os.getpid(), self.store.owner, ", ".join(sorted(self.configs)) or "none", self.partitions,
                 self.config.delivery.lease_seconds)
        await self.coordinator.start()

    def _validate(self, name: str, type_: str, settings: dict[str, Any]) -> SinkConfig | None:
        try:
            return validate_sink({"start": "now", **settings, "name": name, "type": type_}, self.sink_types,
                                 f"sink {name!r}", origin="api")
        except ConfigError as exc:
            log.error("runtime sink %r cannot run: %s", name, exc)
            return None

    async def _reconcile(self) -> None:
        """Run the sinks made through the API (by any process), as they are now."""
        stored = {name: (t, s) for name, t, s in await self.runtime_sinks.all()}
        for name, (type_, settings) in stored.items():
            current = self.configs.get(name)
            if current is not None and current.origin == "config":
                continue  # the config file's sink of that name wins
            if type_ not in self.sink_types:
                if current is None:
                    log.error("runtime sink %r needs sink type %r, which no loaded plugin provides", name, type_)
                    self.configs[name] = SinkConfig(name, type_, settings, origin="unrunnable")
                continue
            if current is not None and dict(current.settings) == settings:
                self.report.settings[name] = settings_fingerprint(settings)
                continue
            wanted = self._validate(name, type_, settings)
            if wanted is None:
                continue
            if current is not None:
                await self.coordinator.remove_runner(name)
            self._add(wanted)
            self.report.settings[name] = settings_fingerprint(settings)
        for name in [n for n, c in self.configs.items() if c.origin != "config" and n not in stored]:
            self.configs.pop(name)
            self.report.settings.pop(name, None)
            await self.coordinator.remove_runner(name)

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), RECONCILE_EVERY_SECONDS)
            except TimeoutError:
                pass
            if stop.is_set():
                return
            try:
                await self._reconcile()
            except Exception as exc:
                log.warning("reading runtime sinks failed, retrying: %s", str(exc).splitlines()[0][:200])

    async def stop(self) -> None:
        await self.coordinator.stop()
        await self.reader.close()
        await self.log_db.dispose()
        if self.state_db is not self.log_db:
            await self.state_db.dispose()


async def serve_delivery(config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        process = DeliveryProcess(config)
    except OSError as exc:  # e.g. the SQLite file's folder cannot be made: the self-hoster must fix it
        from gateway.startup import StartupError

        raise StartupError(f"cannot start: {exc}") from None
    started = False
    while not started and not stop.is_set():
        try:
            await process.start()
            started = True
        except Exception as exc:  # the database not up yet: say so and keep trying
            log.error("delivery cannot start yet, retrying: %s", str(exc).splitlines()[0][:300])
            try:
                await asyncio.wait_for(stop.wait(), 2.0)
            except TimeoutError:
                pass
    if started:
        await process.follow(stop)
    await process.stop()
    log.info("delivery process %d stopped", os.getpid())
