"""The ``kafka`` sink's own config keys: their JSON Schema and the settings the producer is built from.

Key names follow Kafka's Python clients (aiokafka, kafka-python): ``bootstrap_servers``, ``acks``,
``compression_type``, ``linger_ms``, ``max_batch_size``, ``security_protocol``, ``sasl_mechanism``,
``sasl_plain_username``, ``ssl_cafile``... so a self-hoster can copy them from an existing client.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

SINK_TYPE = "kafka"
SECRET_FIELDS = ("sasl_plain_password", "ssl_password")

# Kafka's legal topic characters, with {type} and {source} (the source's name) as placeholders. What
# they expand to is legal too: event types are lowercase words, source names match [A-Za-z0-9_.-].
TOPIC_PATTERN = r"^([A-Za-z0-9._-]|\{type\}|\{source\})+$"
TOPIC_MAX = 249  # Kafka's limit on a topic name

# A field of the canonical event, dotted for a nested one (``context.traits.email``).
_FIELD = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"}
HEADERS = ("messageId", "type", "source")


def compressions() -> list[str]:
    """The codecs this installation can produce: gzip always; lz4, zstd and snappy need cramjam."""
    available = ["none", "gzip"]
    if importlib.util.find_spec("cramjam") is not None:
        available += ["lz4", "zstd", "snappy"]
    return available


def config_schema() -> dict[str, Any]:
    sasl = {"enum": ["SASL_PLAINTEXT", "SASL_SSL"]}
    return {
        "properties": {
            "bootstrap_servers": {"oneOf": [
                {"type": "string", "pattern": r"^\S+:\d+(,\S+:\d+)*$"},
                {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": r"^\S+:\d+$"}},
            ], "description": "host:port, or several (a list or comma-separated)"},
            "topic": {"type": "string", "pattern": TOPIC_PATTERN, "minLength": 1, "maxLength": TOPIC_MAX},
            "key": {"oneOf": [_FIELD, {"type": "array", "items": _FIELD}]},
            "headers": {"type": "array", "uniqueItems": True, "items": {"enum": list(HEADERS)}},
            "allow_auto_create_topics": {"type": "boolean"},
            "acks": {"enum": ["all", 1]},
            "enable_idempotence": {"enum": ["auto", True, False]},
            # The enum lists only the codecs installed, so `gateway check` refuses one that is not.
            "compression_type": {"enum": compressions()},
            "linger_ms": {"type": "integer", "minimum": 0, "maximum": 60000},
            "max_batch_size": {"type": "integer", "minimum": 1024, "maximum": 64 * 1024 * 1024},
            "max_request_size": {"type": "integer", "minimum": 1024, "maximum": 256 * 1024 * 1024},
            "request_timeout_ms": {"type": "integer", "minimum": 100, "maximum": 600000},
            "client_id": {"type": "string", "minLength": 1, "maxLength": 255},
            "security_protocol": {"enum": ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]},
            "sasl_mechanism": {"enum": ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]},
            "sasl_plain_username": {"type": "string", "minLength": 1},
            "sasl_plain_password": {"type": "string", "minLength": 1},
            "ssl_cafile": {"type": "string", "minLength": 1},
            "ssl_certfile": {"type": "string", "minLength": 1},
            "ssl_keyfile": {"type": "string", "minLength": 1},
            "ssl_password": {"type": "string"},
            "ssl_check_hostname": {"type": "boolean"},
        },
        "required": ["bootstrap_servers", "topic"],
        # SASL needs its credentials; credentials without SASL would be silently unused.
        "allOf": [
            {"if": {"required": ["security_protocol"], "properties": {"security_protocol": sasl}},
             "then": {"required": ["sasl_mechanism", "sasl_plain_username", "sasl_plain_password"]}},
            {"if": {"anyOf": [{"required": ["sasl_mechanism"]}, {"required": ["sasl_plain_username"]}]},
             "then": {"required": ["security_protocol"], "properties": {"security_protocol": sasl}}},
        ],
    }


@dataclass(frozen=True)
class KafkaSettings:
    """The keys the producer reads, with their defaults applied once."""

    bootstrap_servers: tuple[str, ...]
    topic: str
    key: tuple[str, ...] = ("userId", "anonymousId")
    headers: tuple[str, ...] = HEADERS
    allow_auto_create_topics: bool = False
    acks: str | int = "all"
    enable_idempotence: str | bool = "auto"
    compression_type: str = "none"
    linger_ms: int = 5
    max_batch_size: int = 1024 * 1024
    max_request_size: int = 1024 * 1024
    request_timeout_ms: int = 30000
    client_id: str = "event-gateway"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = field(default=None, repr=False)
    ssl_check_hostname: bool = True

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> KafkaSettings:
        known = {f.name: settings[f.name] for f in fields(cls) if f.name in settings}
        servers = known.pop("bootstrap_servers")
        if isinstance(servers, str):
            servers = servers.split(",")
        key = known.pop("key", cls.key)
        if isinstance(key, str):
            key = (key,)
        if "headers" in known:
            known["headers"] = tuple(known["headers"])
        return cls(bootstrap_servers=tuple(servers), key=tuple(key), **known)

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")
