"""Shared pieces of the usermaven dialect tests: the seed's payloads and a source to map them for."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gateway import ItemContext, Source
from plugins.usermaven import DIALECT

HERE = Path(__file__).parent
PAYLOADS = HERE / "payloads"
GOLDEN = HERE / "golden"

# The seed's examples carry the placeholder "API_KEY"; a source with that key accepts them as they are.
API_KEY = "API_KEY"
SERVER_TOKEN = "sec_test_token"
SOURCE = Source(name="site", dialect="usermaven", settings={"api_key": API_KEY, "server_token": SERVER_TOKEN})


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def context(index: int = 0) -> ItemContext:
    return ItemContext(source=SOURCE, route=DIALECT.routes[0], index=index)


def check_golden(path: Path, actual: Any) -> None:
    """Compare with a golden file; UPDATE_GOLDEN=1 rewrites it (review the diff before keeping it)."""
    text = json.dumps(actual, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert json.loads(path.read_text()) == actual
