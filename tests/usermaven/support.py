"""Shared pieces of the usermaven dialect tests: the seed's payloads and a source to map them for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway_plugins.usermaven import DIALECT

from gateway import ItemContext, Source

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
