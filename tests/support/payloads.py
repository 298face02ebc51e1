"""Payloads built for tests that probe the limits of parsing and writing JSON."""

from __future__ import annotations

from typing import Any


def nested_object(depth: int) -> dict[str, Any]:
    """``{"a": {"a": ... {"leaf": 1}}}``, ``depth`` objects deep."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value
