"""Golden files: the canonical events a sink receives, with what changes from run to run marked.

Rather than dropped, volatile values are checked for their shape and replaced by a marker, so a
golden file still fails when the core stops stamping them. ``UPDATE_GOLDEN=1`` rewrites the files
(review the diff before keeping it).
"""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

import schemas

GOLDEN_DIR = Path(__file__).parent / "golden"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

RECEIVED = "<receivedAt>"
CORRECTED = "<timestamp corrected for clock skew>"
GENERATED_ID = "<uuid4 made by the gateway>"
CLIENT_IP = "<client ip>"
SENT_AT = "<sentAt by the client's clock>"
CANONICAL = jsonschema.Draft7Validator(schemas.load("canonical_event"), format_checker=jsonschema.FormatChecker())


def _is_time(value: Any) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def stable(event: dict[str, Any], sent_at: bool = False) -> dict[str, Any]:
    """``event`` with its volatile values checked and replaced by markers; ``sent_at`` when an SDK
    stamps ``sentAt`` with the time it sent."""
    event = copy.deepcopy(event)
    if sent_at:
        assert _is_time(event.get("sentAt")), f"sentAt missing or not a UTC time in {event}"
        event["sentAt"] = SENT_AT
    received = event.get("receivedAt")
    assert _is_time(received), f"receivedAt missing or not a UTC time in {event}"
    event["receivedAt"] = RECEIVED
    timestamp = event.get("timestamp")
    assert _is_time(timestamp), f"timestamp missing or not a UTC time in {event}"
    if timestamp == received:
        event["timestamp"] = RECEIVED
    elif "sentAt" in event:
        event["timestamp"] = CORRECTED
    message_id = event.get("messageId")
    assert isinstance(message_id, str) and message_id, f"messageId missing in {event}"
    if _UUID.match(message_id):
        event["messageId"] = GENERATED_ID
    context = event.get("context")
    if isinstance(context, dict) and "ip" in context:
        assert isinstance(context["ip"], str) and context["ip"]
        context["ip"] = CLIENT_IP
    return event


def read_golden(name: str) -> list[dict[str, Any]]:
    path = GOLDEN_DIR / f"{name}.json"
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to write it, then review it"
    loaded: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def assert_golden(name: str, events: list[dict[str, Any]], sent_at: bool = False) -> None:
    """``events`` are canonical events, and their stable form equals the golden file ``name`` (in order)."""
    for event in events:
        CANONICAL.validate(event)
    actual = [stable(e, sent_at) for e in events]
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN_DIR.mkdir(exist_ok=True)
        text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        (GOLDEN_DIR / f"{name}.json").write_text(text, encoding="utf-8")
    assert actual == read_golden(name)
