"""config.toml: read it, expand ``${VAR}``, validate every table, and refuse a bad one in one sentence."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway import config_schema as cs
from gateway.config_checks import ValueProblem, check_database_url, check_sink_table
from gateway.cors import source_origins
from gateway.plugins import registered
from gateway.sources import Source
from gateway.validation import config_errors

if TYPE_CHECKING:
    from gateway.dialects import Dialect
    from gateway.plugins import Hooks
    from gateway.sinks import SinkType

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A config that cannot run. The message names the file, the table, the key and what was expected."""


@dataclass(frozen=True)
class SinkConfig:
    name: str
    type: str
    settings: Mapping[str, Any]
    origin: str = "config"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    # The HTTP server each ingest worker runs: Hypercorn (the design's choice) or uvicorn with
    # httptools, which spends about a quarter of Hypercorn's CPU per request (bench rows 1u, 2u).
    engine: str = "hypercorn"
    trusted_proxies: tuple[str, ...] = ()
    body_timeout_seconds: float = 30.0
    keep_alive_seconds: float = 5.0
    graceful_timeout_seconds: float = 10.0
    cors_origins: tuple[str, ...] = ("*",)
    # Request bytes all requests in flight may hold together (per process); past it new requests get
    # 503 + Retry-After before their body is read. 16 MiB: four full 4 MB batches at once, which take
    # about 100 MB each while parsed, mapped and committed.
    max_inflight_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class StorageConfig:
    url: str = "sqlite+aiosqlite:///data/gateway.db"
    synchronous: str = "FULL"
    group_commit_max_events: int = 20000
    retention_hours: float = 168.0
    unavailable_after_seconds: float = 5.0
    partitions: int | None = None  # None: 1 on SQLite, 8 on PostgreSQL


@dataclass(frozen=True)
class DeliveryConfig:
    workers: int = 1
    lease_seconds: float = 10.0
    stuck_after_seconds: float = 30.0
    deliver_timeout_seconds: float = 300.0
    prune_every_seconds: float = 60.0


@dataclass(frozen=True)
class Config:
    path: Path
    server: ServerConfig
    storage: StorageConfig
    admin_key: str
    sources: list[Source]
    sinks: list[SinkConfig]
    plugins_dir: Path | None = None
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    hooks: Hooks | None = field(default=None, compare=False, repr=False)

    @property
    def config_dir(self) -> Path:
        return self.path.parent

    @property
    def storage_url(self) -> str:
        return self.storage.url


def expand_env(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string; an unset VAR without default is an error."""
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable {name} is not set (use ${{{name}:-default}})")
        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where}.{k}" if where else k, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]", environ) for i, v in enumerate(value)]
    return value


def _check(schema: Mapping[str, Any], data: Any, where: str) -> None:
    errors = config_errors(schema, data)
    if errors:
        raise ConfigError(f"{where}: {errors[0].message}")


def _table_label(kind: str, index: int, table: Mapping[str, Any]) -> str:
    name = table.get("name")
    return f"{kind}[{index}] ({name!r})" if isinstance(name, str) else f"{kind}[{index}]"


def source_from_table(table: Mapping[str, Any], dialect: Dialect, origin: str = "config") -> Source:
    return Source(
        name=table["name"],
        dialect=dialect.name,
        settings=dict(table),
        batch_mode=table.get("batch_mode", "partial"),
        max_event_bytes=table.get("max_event_bytes", dialect.max_event_bytes),
        max_request_bytes=table.get("max_request_bytes", dialect.max_request_bytes),
        max_events_per_request=table.get("max_events_per_request", 20_000),
        origin=origin,
        allowed_origins=source_origins(table.get("allowed_origins")),
    )


def validate_source(table: Mapping[str, Any], dialects: Mapping[str, Dialect], where: str) -> Source:
    dialect_name = table.get("dialect")
    if not isinstance(dialect_name, str):
        raise ConfigError(f"{where}: dialect is required; available: {registered(dialects)}")
    dialect = dialects.get(dialect_name)
    if dialect is None:
        raise ConfigError(f"{where}: unknown dialect {dialect_name!r}; available: {registered(dialects)}")
    _check(cs.merged(cs.SOURCE_COMMON, dict(dialect.source_schema), ["name", "dialect"]), table, where)
    refuse_padded_secrets(table, dialect.secrets, where)
    return source_from_table(table, dialect)


def refuse_padded_secrets(table: Mapping[str, Any], keys: Sequence[str], where: str) -> None:
    """A key with leading or trailing whitespace (an environment variable ending in a newline) can
    never match: presented keys arrive without it. Refused at start-up, naming the key."""
    for key in keys:
        value = table.get(key)
        if isinstance(value, str) and value != value.strip():
            raise ConfigError(f"{where}: {key} has leading or trailing whitespace (an environment variable "
                              "ending in a newline?); no client could present it: remove the whitespace")


def validate_sink(table: Mapping[str, Any], sink_types: Mapping[str, SinkType], where: str,
                  origin: str = "config") -> SinkConfig:
    type_name = table.get("type")
    if not isinstance(type_name, str):
        raise ConfigError(f"{where}: type is required; available: {registered(sink_types)}")
    sink_type = sink_types.get(type_name)
    if sink_type is None:
        raise ConfigError(f"{where}: unknown sink type {type_name!r}; available: {registered(sink_types)}")
    _check(cs.merged(cs.SINK_COMMON, dict(sink_type.config_schema), ["name", "type"]), table, where)
    refuse_padded_secrets(table, sink_type.secret_fields, where)
    if sink_type.check is not None:
        try:
            sink_type.check(table)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    try:
        check_sink_table(table, sink_type.config_schema)
    except ValueProblem as exc:
        raise ConfigError(f"{where}: {exc}") from None
    settings = {**cs.SINK_DEFAULTS, **sink_type.defaults, **table}
    return SinkConfig(name=table["name"], type=type_name, settings=settings, origin=origin)


def check_unique_sources(sources: list[Source], dialects: Mapping[str, Dialect], file: str) -> None:
    names: dict[str, int] = {}
    keys: dict[str, str] = {}
    for i, source in enumerate(sources):
        if source.name in names:
            raise ConfigError(f"{file}: sources[{i}]: name {source.name!r} is already used by "
                              f"sources[{names[source.name]}]")
        names[source.name] = i
        for key in dialects[source.dialect].credentials(source.settings):
            if key in keys:
                raise ConfigError(f"{file}: sources[{i}] ({source.name!r}): its key is already used by "
                                  f"source {keys[key]!r}; every source needs its own key")
            keys[key] = source.name


def parse_config(data: dict[str, Any], path: Path, hooks: Hooks) -> Config:
    file = str(path)
    _check(cs.TOP, data, file)
    for table, schema in (("server", cs.SERVER), ("storage", cs.STORAGE), ("admin", cs.ADMIN),
                          ("delivery", cs.DELIVERY)):
        _check(schema, data.get(table, {}), f"{file}: [{table}]")
    refuse_padded_secrets(data.get("admin", {}), ("api_key",), f"{file}: [admin]")
    try:
        check_database_url("url", data.get("storage", {}).get("url"))
    except ValueProblem as exc:
        raise ConfigError(f"{file}: [storage] {exc}") from None
    dialects, sink_types = hooks.dialects(), hooks.sink_types()
    sources = [validate_source(t, dialects, f"{file}: {_table_label('sources', i, t)}")
               for i, t in enumerate(data.get("sources", []))]
    check_unique_sources(sources, dialects, file)
    sinks = [validate_sink(t, sink_types, f"{file}: {_table_label('sinks', i, t)}")
             for i, t in enumerate(data.get("sinks", []))]
    seen: set[str] = set()
    for i, sink in enumerate(sinks):
        if sink.name in seen:
            raise ConfigError(f"{file}: sinks[{i}]: name {sink.name!r} is used by another sink")
        seen.add(sink.name)
    server = dict(data.get("server", {}))
    server["trusted_proxies"] = tuple(server.get("trusted_proxies", ()))
    if "cors_origins" in server:
        server["cors_origins"] = tuple(server["cors_origins"])
    plugins_dir = data.get("plugins_dir")
    return Config(
        path=path,
        server=ServerConfig(**server),
        storage=StorageConfig(**data.get("storage", {})),
        admin_key=data.get("admin", {}).get("api_key", ""),
        sources=sources,
        sinks=sinks,
        plugins_dir=(path.parent / plugins_dir).resolve() if plugins_dir else None,
        delivery=DeliveryConfig(**data.get("delivery", {})),
        hooks=hooks,
    )


def read_toml(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        data: dict[str, Any] = expand_env(raw, "", os.environ if environ is None else environ)
    except ConfigError as exc:  # like every other config error: the file first, then the table and key
        raise ConfigError(f"{path}: {exc}") from None
    return data


def load_config(path: Path | str, hooks: Hooks | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate ``path``; load the plugins (and its ``plugins_dir``) unless given ``hooks``."""
    from gateway.plugins import PluginError, load_hooks

    path = Path(path).resolve()
    data = read_toml(path, environ)
    if hooks is None:
        plugins_dir = data.get("plugins_dir")
        try:
            hooks = load_hooks((path.parent / plugins_dir).resolve() if isinstance(plugins_dir, str) else None)
        except PluginError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return parse_config(data, path, hooks)
