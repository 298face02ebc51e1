"""A webhook's own config keys: their JSON Schema, their defaults, and how secrets are shown."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

SINK_TYPE = "webhook"
# A batch's states (here, not beside the tables, so the CLI's --help need not import SQLAlchemy).
PENDING, RETRYING, DELIVERED, DEAD = "pending", "retrying", "delivered", "dead"
WAITING = (PENDING, RETRYING)
STATES = (PENDING, RETRYING, DELIVERED, DEAD)
DEFAULT_AUTH_HEADER = "X-MessageSystems-Webhook-Token"
SECRET_FIELDS = ("auth_token", "basic_password", "signing_secret")
ENVELOPES = ("canonical", "momentum", "cloudevents")

# Momentum's numbers: batches of 10k events or 30 s, 6 s per attempt, retried for four hours.
BATCH_DEFAULTS: dict[str, Any] = {"batch_max_events": 10000, "batch_max_seconds": 30}
RETRY_INITIAL_SECONDS = 5.0
RETRY_FOR_SECONDS = 14400.0

_HEADER_NAME = {"type": "string", "pattern": "^[A-Za-z0-9!#%&'*+.^_`|~-]{1,128}$"}

# "events" (canonical types, each optionally narrowed: "track:Order Completed") is the core's common key.

CONFIG_SCHEMA: dict[str, Any] = {
    "properties": {
        "target": {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+([/?#]\\S*)?$",
                   "maxLength": 2048},
        "label": {"type": "string", "minLength": 1, "maxLength": 256},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
        "auth_token": {"type": "string", "minLength": 1},
        "auth_header": _HEADER_NAME,
        "basic_user": {"type": "string", "pattern": "^[^:]*$"},
        "basic_password": {"type": "string"},
        "signing_secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/]{8,}={0,2}$"},
        "envelope": {"enum": list(ENVELOPES)},
        "gzip": {"type": "boolean"},
        "max_in_flight": {"type": "integer", "minimum": 1, "maximum": 64},
        "max_pending_batches": {"type": "integer", "minimum": 1},
        "allow_private_targets": {"type": "boolean"},
        "cloudevents_type_prefix": {"type": "string", "minLength": 1, "maxLength": 128},
    },
    "required": ["target"],
}


@dataclass(frozen=True)
class WebhookSettings:
    """The keys the sender reads, with their defaults applied once."""

    name: str
    target: str
    timeout_seconds: float = 6.0
    auth_token: str | None = None
    auth_header: str = DEFAULT_AUTH_HEADER
    basic_user: str | None = None
    basic_password: str | None = None
    signing_secret: str | None = None
    envelope: str = "canonical"
    gzip: bool = False
    max_in_flight: int = 4
    max_pending_batches: int = 1000
    # Config-file webhooks are written by the self-hoster and may point anywhere; the API sets
    # this to False on the webhooks it creates unless the admin asks otherwise.
    allow_private_targets: bool = True
    cloudevents_type_prefix: str = "gateway.event."

    @cached_property
    def url(self) -> httpx.URL:
        """The target parsed once (config check and the API made sure it parses)."""
        from .targets import parse_target  # httpx: not when the plugin merely loads

        return parse_target(self.target)

    @classmethod
    def from_mapping(cls, name: str, settings: Mapping[str, Any]) -> WebhookSettings:
        known = {k: settings[k] for k in cls.__dataclass_fields__ if k in settings and k != "name"}
        return cls(name=name, **known)


def effective(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with every unset key's default filled in, as the sender will use them."""
    defaults = {name: f.default for name, f in WebhookSettings.__dataclass_fields__.items()
                if name not in ("name", "target") and f.default is not None}
    return {**defaults, **settings}


def mask(value: str | None) -> str | None:
    """Enough of a secret to tell two apart, never enough to use it."""
    if value is None:
        return None
    if len(value) < 12:
        return "****"
    return "****" + value[-4:]


def masked_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (mask(v) if k in SECRET_FIELDS and isinstance(v, str) else v) for k, v in settings.items()}


def new_signing_secret() -> str:
    """A secret in the Standard Webhooks ``whsec_`` form: base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
