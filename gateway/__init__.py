"""A self-hosted analytics event gateway. Plugins start with ``from gateway import hookimpl``."""

from typing import TYPE_CHECKING, Any

from gateway.canonical import EVENT_TYPES, CanonicalEvent
from gateway.dialects import Dialect, DialectRoute, IngestResult, ItemContext, Unpacked
from gateway.errors import (
    Forbidden,
    GatewayError,
    InvalidEvent,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
)
from gateway.hookspecs import hookimpl
from gateway.routes import PluginRoute
from gateway.sinks import Batch, Sink, SinkContext, SinkType
from gateway.sources import Source

if TYPE_CHECKING:
    from gateway.body import parse_json
    from gateway.cli import add_config_argument
    from gateway.config import ConfigError, SinkConfig, load_config, validate_sink
    from gateway.delivery.fence import LeaseLost, check_epoch
    from gateway.responses import json_response
    from gateway.retry import RetryPolicy, parse_retry_after
    from gateway.storage.database import Database, state_url
    from gateway.times import from_epoch_millis, utc_iso

# Names whose modules pull in SQLAlchemy, Starlette or the schema validators load on first use, so that
# `gateway --help` and `gateway check` stay fast although every plugin starts with `from gateway import`.
_LAZY = {
    "parse_json": "gateway.body",
    "add_config_argument": "gateway.cli",
    "ConfigError": "gateway.config",
    "SinkConfig": "gateway.config",
    "load_config": "gateway.config",
    "validate_sink": "gateway.config",
    "LeaseLost": "gateway.delivery.fence",
    "check_epoch": "gateway.delivery.fence",
    "json_response": "gateway.responses",
    "RetryPolicy": "gateway.retry",
    "parse_retry_after": "gateway.retry",
    "Database": "gateway.storage.database",
    "state_url": "gateway.storage.database",
    "from_epoch_millis": "gateway.times",
    "utc_iso": "gateway.times",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "EVENT_TYPES",
    "Batch",
    "CanonicalEvent",
    "ConfigError",
    "Database",
    "Dialect",
    "DialectRoute",
    "Forbidden",
    "GatewayError",
    "IngestResult",
    "InvalidEvent",
    "ItemContext",
    "LeaseLost",
    "PayloadTooLarge",
    "PluginRoute",
    "RetryPolicy",
    "Sink",
    "SinkConfig",
    "SinkContext",
    "SinkType",
    "Source",
    "Unauthorized",
    "Unavailable",
    "Unpacked",
    "add_config_argument",
    "check_epoch",
    "from_epoch_millis",
    "hookimpl",
    "json_response",
    "load_config",
    "parse_json",
    "parse_retry_after",
    "state_url",
    "utc_iso",
    "validate_sink",
]
