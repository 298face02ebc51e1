"""Sources created through the admin API: made, rotated and deleted here, and kept in step across processes.

Every process of the gateway holds every source in memory (its AuthService needs the keys). A
change is written to the database first, applied to this process at once, and picked up by the
other processes within ``POLL_SECONDS`` by watching the generation counter.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from gateway.admin.keys import new_credentials, rotated_secrets, shown_once
from gateway.admin.store import Record, RuntimeSourceStore
from gateway.config import ConfigError, validate_source
from gateway.dialects import Dialect
from gateway.errors import GatewayError
from gateway.sources import Source

if TYPE_CHECKING:
    from gateway.runtime import Gateway

log = logging.getLogger("gateway.admin")

POLL_SECONDS = 2.0


def not_found(name: str) -> GatewayError:
    return GatewayError(f"no source named {name!r}", status=404, code="not_found", detail={"name": name})


def read_only(name: str, action: str) -> GatewayError:
    return GatewayError(f"source {name!r} comes from the config file and is read-only here; {action} in the file",
                        status=409, code="read_only", detail={"name": name})


class SourceRegistry:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.store = RuntimeSourceStore(gateway.database)
        self.records: dict[str, Record] = {}
        self._skipped: dict[str, float] = {}
        self._generation = -1
        self._lock = asyncio.Lock()

    # -- keeping in step -----------------------------------------------------------------------
    async def start(self) -> None:
        await self.store.ensure()
        await self.refresh()

    async def follow(self) -> None:
        """Apply the other processes' changes, for the life of the process."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.refresh()
            except Exception as exc:  # a busy database now is no reason to stop following
                log.warning("reloading runtime sources failed: %s", str(exc).splitlines()[0][:200])

    async def refresh(self) -> None:
        async with self._lock:
            await self._refresh()

    async def _refresh(self) -> None:
        if self._generation >= 0 and await self.store.generation() == self._generation:
            return
        generation, records = await self.store.load()
        stored = {r.name: r for r in records}
        for name in [n for n in self.records if n not in stored]:
            self.records.pop(name)
            self.gateway.remove_source(name)
        for record in records:
            current = self.records.get(record.name)
            if current is not None and current.updated_at == record.updated_at:
                continue
            if current is None and self._skipped.get(record.name) == record.updated_at:
                continue
            source = self._loadable(record)
            if source is None:
                self._skipped[record.name] = record.updated_at
                continue
            self._apply(record, source)
        self._generation = generation

    def _loadable(self, record: Record) -> Source | None:
        if any(s.name == record.name for s in self.gateway.config.sources):
            log.warning("runtime source %r is shadowed by the config file's source of that name", record.name)
            return None
        if record.dialect not in self.gateway.dialects:
            log.error("runtime source %r needs dialect %r, which no loaded plugin provides",
                      record.name, record.dialect)
            return None
        try:
            return self._validate(record.settings)
        except GatewayError as exc:
            log.error("runtime source %r no longer validates: %s", record.name, exc.message)
            return None

    def _apply(self, record: Record, source: Source) -> None:
        now = time.time()
        self.gateway.remove_source(record.name)
        self.gateway.add_source(source, extra_keys=[(k, t) for k, t in record.retired_keys if t > now])
        self.records[record.name] = record

    def _validate(self, table: Mapping[str, Any]) -> Source:
        where = f"source {table.get('name')!r}" if isinstance(table.get("name"), str) else "source"
        try:
            source = validate_source(table, self.gateway.dialects, where)
        except ConfigError as exc:
            raise GatewayError(str(exc), code="invalid_source") from None
        return dataclasses.replace(source, origin="api")

    def _check_keys_free(self, source: Source, dialect: Dialect) -> None:
        taken: dict[str, str] = {}
        for other in self.gateway.sources.values():
            for key in self.gateway.dialects[other.dialect].credentials(other.settings):
                taken[key] = other.name
        for record in self.records.values():
            taken.update({key: record.name for key, _ in record.retired_keys})
        for key in dialect.credentials(source.settings):
            if key in taken:
                raise GatewayError(f"this key is already used by source {taken[key]!r}; every source needs "
                                   "its own key", status=409, code="conflict", detail={"name": source.name})

    # -- changes -------------------------------------------------------------------------------
    async def create(self, table: Mapping[str, Any]) -> tuple[Source, dict[str, Any]]:
        """Make a source from a ``[[sources]]``-like table; key fields left out are generated.

        Returns the source and the key fields to show once.
        """
        async with self._lock:
            await self._refresh()
            name, dialect_name = table.get("name"), table.get("dialect")
            dialect = self.gateway.dialects.get(dialect_name) if isinstance(dialect_name, str) else None
            made = {k: v for k, v in new_credentials(dialect).items() if k not in table} if dialect else {}
            settings = {**made, **table}
            source = self._validate(settings)
            assert dialect is not None  # validation refused an unknown dialect
            if source.name in self.gateway.sources:
                raise GatewayError(f"a source named {name!r} exists already", status=409, code="conflict",
                                   detail={"name": name})
            self._check_keys_free(source, dialect)
            now = time.time()
            record = Record(name=source.name, dialect=dialect.name, settings=settings,
                            since_seq=await self.store.head(), created_at=now, updated_at=now)
            try:
                await self.store.insert(record)
            except IntegrityError:
                raise GatewayError(f"a source named {name!r} exists already", status=409, code="conflict",
                                   detail={"name": name}) from None
            self._apply(record, source)
            return source, shown_once(settings, dialect, set(made))

    async def rotate(self, name: str, grace_seconds: float) -> tuple[Source, dict[str, Any], float | None]:
        """New secrets for a runtime source; the old key works ``grace_seconds`` longer.

        Returns the source, the new key fields to show once, and when the old key stops working.
        """
        async with self._lock:
            await self._refresh()
            record = self._writable(name, "change its key")
            dialect = self.gateway.dialects[record.dialect]
            fresh = rotated_secrets(dialect)
            settings = {**record.settings, **fresh}
            source = self._validate(settings)
            self._check_keys_free(source, dialect)
            now = time.time()
            expires_at = now + grace_seconds if grace_seconds > 0 else None
            retired = [(k, t) for k, t in record.retired_keys if t > now]
            if expires_at is not None:
                retired += [(key, expires_at) for key in dialect.credentials(record.settings)]
            updated = dataclasses.replace(record, settings=settings, retired_keys=retired, updated_at=now)
            if not await self.store.replace_keys(updated):
                raise not_found(name)
            self._apply(updated, source)
            return source, shown_once(settings, dialect, set(fresh)), expires_at

    async def delete(self, name: str) -> None:
        async with self._lock:
            await self._refresh()
            self._writable(name, "remove it")
            await self.store.delete(name)
            self.records.pop(name, None)
            self.gateway.remove_source(name)

    def _writable(self, name: str, action: str) -> Record:
        record = self.records.get(name)
        if record is not None:
            return record
        if name in self.gateway.sources:
            raise read_only(name, action)
        raise not_found(name)
