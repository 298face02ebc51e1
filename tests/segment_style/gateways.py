"""Configs and helpers the HTTP tests of the segment_style dialect share."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import BASE_CONFIG
from tests.support.server import RunningGateway

from .seeds import WRITE_KEY

ANONYMOUS_KEY = "wk_anonymous_ok"
ATOMIC_KEY = "wk_atomic"
TINY_KEY = "wk_tiny"
BASIC = (WRITE_KEY, "")

CONFIG = f"""
{BASE_CONFIG}
[[sources]]
name = "backend"
dialect = "segment_style"
write_key = "{WRITE_KEY}"

[[sources]]
name = "anonymous"
dialect = "segment_style"
write_key = "{ANONYMOUS_KEY}"
require_identity = false

[[sources]]
name = "strict"
dialect = "segment_style"
write_key = "{ATOMIC_KEY}"
batch_mode = "atomic"

[[sources]]
name = "tiny"
dialect = "segment_style"
write_key = "{TINY_KEY}"
max_event_bytes = 1024
max_request_bytes = 4096

[[sinks]]
name = "console"
type = "stdout"
"""


def post_and_collect(gw: RunningGateway, send: Callable[[], httpx.Response], n: int) -> list[dict[str, Any]]:
    """Send one request that must commit ``n`` events; return what the sink printed for it.

    Only for a gateway whose requests are all made this way, one at a time: the sink prints in
    commit order, so the request's events are the ``n`` after those printed before it.
    """
    before = len(gw.stdout_events())
    response = send()
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": n}
    return gw.wait_for_stdout_events(before + n)[before:]


def rejections(gw: RunningGateway, source: str) -> list[dict[str, Any]]:
    """The rejections the gateway recorded for ``source``, oldest first, from its SQLite file."""
    with sqlite3.connect(gw.dir / "data" / "gateway.db", timeout=10) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT item_index, code, reason, field, payload FROM rejections "
                          "WHERE source = ? ORDER BY id", (source,)).fetchall()
    return [dict(row) for row in rows]


def one_shot(gw: RunningGateway, path: str, **kwargs: Any) -> httpx.Response:
    """POST on a connection of its own, for requests the gateway may answer before reading the body.

    Such an answer (401 for a wrong Basic key, 413 by Content-Length) leaves the connection
    unusable, and the shared client would send the next test's request on it.
    """
    with httpx.Client(base_url=gw.url, timeout=15) as client:
        return client.post(path, **kwargs)
