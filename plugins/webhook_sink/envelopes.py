"""The three body formats a webhook can post. Each takes the stored canonical JSON array.

``canonical`` posts the stored bytes as they are (no parse, no re-serialisation: the hot path);
the other two parse once and wrap each event.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from .settings import WebhookSettings

JSON = "application/json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"


def canonical_array(raw: Sequence[bytes]) -> bytes:
    """The events as one JSON array, joined from their committed bytes.

    In one copy: a 10k-event batch is megabytes, and adding the brackets to the joined bytes copied
    it twice more into freshly mapped memory (10 ms a batch here, against 0.3 for one join).
    """
    if len(raw) < 2:
        return b"[" + b"".join(raw) + b"]"
    return b",".join([b"[" + raw[0], *raw[1:-1], raw[-1] + b"]"])


def _canonical(stored: bytes, settings: WebhookSettings) -> bytes:
    return stored


def _momentum(stored: bytes, settings: WebhookSettings) -> bytes:
    # Momentum wraps each record in a type-named envelope: {"msys": {"<type>_event": {...}}}.
    events: list[dict[str, Any]] = orjson.loads(stored)
    return orjson.dumps([{"msys": {f"{e.get('type', 'unknown')}_event": e}} for e in events])


def _cloudevents(stored: bytes, settings: WebhookSettings) -> bytes:
    events: list[dict[str, Any]] = orjson.loads(stored)
    prefix = settings.cloudevents_type_prefix
    out = []
    for e in events:
        source = e.get("source") or {}
        record: dict[str, Any] = {
            "specversion": "1.0",
            "id": e.get("messageId", ""),
            "source": f"/sources/{source.get('name', 'unknown')}",
            "type": f"{prefix}{e.get('type', 'unknown')}",
            "datacontenttype": JSON,
            "data": e,
        }
        if e.get("timestamp"):
            record["time"] = e["timestamp"]
        subject = e.get("event") or e.get("name")
        if subject:
            record["subject"] = subject
        out.append(record)
    return orjson.dumps(out)


_BUILDERS: dict[str, tuple[Callable[[bytes, WebhookSettings], bytes], str]] = {
    "canonical": (_canonical, JSON),
    "momentum": (_momentum, JSON),
    "cloudevents": (_cloudevents, CLOUDEVENTS_BATCH),
}


def render(stored: bytes, settings: WebhookSettings) -> tuple[bytes, str]:
    """The body (before any compression) and its Content-Type."""
    build, content_type = _BUILDERS[settings.envelope]
    return build(stored, settings), content_type


def compress(body: bytes) -> bytes:
    # Level 5: most of level 9's ratio on JSON at a fraction of the CPU.
    return gzip.compress(body, compresslevel=5)
