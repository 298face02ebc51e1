"""Payloads, golden files and the comparison the Filum tests share."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.conftest import BASE_CONFIG

HERE = Path(__file__).parent
WRITE_KEY = "wk_filum_test"

# What differs from one run to the next: the id and arrival time the core makes up. (The
# timestamp is stable for an event without sentAt: the client's, normalised.)
VOLATILE = ("messageId", "receivedAt")


def payload(name: str) -> Any:
    return json.loads((HERE / "payloads" / f"{name}.json").read_text(encoding="utf-8"))


def golden(name: str) -> Any:
    return json.loads((HERE / "golden" / f"{name}.json").read_text(encoding="utf-8"))


def stable(event: dict[str, Any], *also: str) -> dict[str, Any]:
    """``event`` less its volatile fields (and ``also``), after checking the core did stamp them."""
    event = copy.deepcopy(event)
    for key in (*VOLATILE, *also):
        assert event.get(key), f"{key} missing from {event}"
        del event[key]
    context = event.get("context", {})
    context.pop("ip", None)
    if not context:
        event.pop("context", None)
    return event


ATOMIC_WRITE_KEY = "wk_filum_atomic"

CONFIG = f"""
{BASE_CONFIG}
[[sources]]
name = "crm"
dialect = "filum"
write_key = "{WRITE_KEY}"

[[sources]]
name = "crm-atomic"
dialect = "filum"
write_key = "{ATOMIC_WRITE_KEY}"
batch_mode = "atomic"

[[sinks]]
name = "console"
type = "stdout"
"""


def bearer(key: str = WRITE_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
