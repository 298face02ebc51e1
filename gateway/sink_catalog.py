"""The sinks a gateway knows: the config file's and those made through the API (persisted).

An ingest process only records them; delivery processes run them (they re-read the runtime sinks
every few seconds), so a sink made through any process's API is delivered by every delivery process
that can run its type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.config import ConfigError, SinkConfig, validate_sink
from gateway.delivery.leases import delete_sink_state
from gateway.errors import GatewayError
from gateway.sinks import SinkType
from gateway.storage.database import Database
from gateway.storage.queries import RuntimeSinks


class SinkCatalog:
    def __init__(self, configured: list[SinkConfig], sink_types: Mapping[str, SinkType], log_db: Database,
                 state_db: Database) -> None:
        self.sink_types = sink_types
        self.store = RuntimeSinks(log_db)
        self.state_db = state_db
        self._configs: dict[str, SinkConfig] = {s.name: s for s in configured}

    def all(self) -> list[SinkConfig]:
        return list(self._configs.values())

    def validate(self, name: str, type_: str, settings: dict[str, Any]) -> SinkConfig:
        table = {"start": "now", **settings, "name": name, "type": type_}
        try:
            return validate_sink(table, self.sink_types, f"sink {name!r}", origin="api")
        except ConfigError as exc:
            raise GatewayError(str(exc), code="invalid_sink") from None

    async def refresh(self) -> None:
        """Pick up runtime sinks another process made or removed."""
        stored = {name: (t, s) for name, t, s in await self.store.all()}
        for name, (type_, settings) in stored.items():
            current = self._configs.get(name)
            if current is not None and current.origin == "config":
                continue
            if type_ in self.sink_types:
                try:
                    self._configs[name] = self.validate(name, type_, settings)
                except GatewayError:
                    continue
        for name in [n for n, c in self._configs.items() if c.origin == "api" and n not in stored]:
            self._configs.pop(name)

    async def add(self, name: str, type_: str, settings: dict[str, Any]) -> SinkConfig:
        if name in self._configs:
            raise GatewayError(f"a sink named {name!r} exists already", status=409, code="conflict")
        sink_config = self.validate(name, type_, settings)
        await self.store.save(name, type_, dict(sink_config.settings))
        self._configs[name] = sink_config
        return sink_config

    def _runtime(self, name: str, action: str) -> SinkConfig:
        current = self._configs.get(name)
        if current is None:
            raise GatewayError(f"no sink named {name!r}", status=404, code="not_found")
        if current.origin == "config":
            raise GatewayError(f"sink {name!r} comes from the config file; {action} it there", status=409,
                               code="read_only")
        return current

    async def update(self, name: str, settings: dict[str, Any]) -> SinkConfig:
        current = self._runtime(name, "change")
        sink_config = self.validate(name, current.type, settings)
        await self.store.save(name, current.type, dict(sink_config.settings))
        self._configs[name] = sink_config
        return sink_config

    async def remove(self, name: str) -> None:
        self._runtime(name, "remove")
        await self.store.delete(name)
        self._configs.pop(name, None)
        await delete_sink_state(self.state_db, name)
