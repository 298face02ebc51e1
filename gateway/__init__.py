"""A self-hosted analytics event gateway. Plugins start with ``from gateway import hookimpl``."""

from gateway.body import parse_json
from gateway.canonical import EVENT_TYPES, CanonicalEvent
from gateway.config import ConfigError, SinkConfig, load_config, validate_sink
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
from gateway.responses import json_response
from gateway.retry import RetryPolicy, parse_retry_after
from gateway.routes import PluginRoute
from gateway.sinks import Batch, Sink, SinkContext, SinkType
from gateway.sources import Source
from gateway.storage.database import Database
from gateway.times import from_epoch_millis, utc_iso

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
    "from_epoch_millis",
    "hookimpl",
    "json_response",
    "load_config",
    "parse_json",
    "parse_retry_after",
    "utc_iso",
    "validate_sink",
]
