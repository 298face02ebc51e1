"""Payloads, golden files and the config the Filum tests share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import BASE_CONFIG

HERE = Path(__file__).parent
WRITE_KEY = "wk_filum_test"

GOLDEN = HERE / "golden"  # compared through the plugin kit: gateway.testing.assert_golden_events


def payload(name: str) -> Any:
    return json.loads((HERE / "payloads" / f"{name}.json").read_text(encoding="utf-8"))


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
