"""JSON Schemas shared by the core and every plugin."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import orjson


@cache
def load(name: str) -> dict[str, Any]:
    """Return the schema ``<name>.schema.json`` shipped in this package."""
    data: dict[str, Any] = orjson.loads(files(__name__).joinpath(f"{name}.schema.json").read_bytes())
    return data
