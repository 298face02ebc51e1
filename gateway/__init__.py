"""A self-hosted analytics event gateway. Plugins start with ``from gateway import hookimpl``."""

from gateway.canonical import EVENT_TYPES, CanonicalEvent
from gateway.delivery.fence import LeaseLost, check_epoch
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

__all__ = [
    "EVENT_TYPES",
    "Batch",
    "CanonicalEvent",
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
    "Sink",
    "SinkContext",
    "SinkType",
    "Source",
    "Unauthorized",
    "Unavailable",
    "Unpacked",
    "check_epoch",
    "hookimpl",
]
