"""This dialect's golden files, through the plugin kit (gateway.testing; ``--update-goldens`` rewrites them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.testing import assert_golden_events

GOLDEN_DIR = Path(__file__).parent / "golden"


def read_golden(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def assert_golden(name: str, events: list[dict[str, Any]], sent_at: bool = False) -> None:
    """``events`` are canonical events, and their stable form equals the golden file ``name`` (in order)."""
    assert_golden_events(GOLDEN_DIR / f"{name}.json", events, sent_at=sent_at)
