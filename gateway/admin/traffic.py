"""Accepted and rejected events per minute per source, for the admin page's traffic chart.

Counted in the database: accepted events from the durable log (from the first position of the
window, found by bisection), rejected ones from the rejections table, grouped by minute there.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Integer, cast, func, select
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin.stats import first_seq_since
from gateway.errors import GatewayError
from gateway.responses import json_response
from gateway.storage.database import Database
from gateway.storage.tables import log_table, rejection_table

WINDOWS = {"hour": 60, "day": 24 * 60}  # minutes


def _minute(column: Any, database: Database) -> Any:
    # SQLite's CAST truncates (floor, for times after 1970); PostgreSQL's rounds, so it needs floor().
    if database.is_sqlite:
        return cast(column / 60, Integer)
    return cast(func.floor(column / 60), Integer)


async def per_minute(database: Database, minutes: int, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    last = int(now // 60)
    first = last - minutes + 1
    cutoff = first * 60.0
    series: dict[str, dict[str, list[int]]] = {}

    def add(source: str, kind: str, minute: int, count: int) -> None:
        entry = series.setdefault(source, {"accepted": [0] * minutes, "rejected": [0] * minutes})
        if first <= minute <= last:
            entry[kind][minute - first] += count

    async with database.engine.connect() as conn:
        start = await first_seq_since(conn, cutoff)
        if start is not None:
            minute = _minute(log_table.c.received_at, database)
            rows = await conn.execute(select(log_table.c.source, minute, func.count())
                                      .where(log_table.c.seq >= start).group_by(log_table.c.source, minute))
            for source, at, count in rows:
                add(source, "accepted", int(at), int(count))
        minute = _minute(rejection_table.c.received_at, database)
        rows = await conn.execute(select(rejection_table.c.source, minute, func.count())
                                  .where(rejection_table.c.received_at >= cutoff)
                                  .group_by(rejection_table.c.source, minute))
        for source, at, count in rows:
            add(source, "rejected", int(at), int(count))
    return {"minutes": minutes, "first_minute": first * 60, "sources": series}


async def traffic(request: Request) -> Response:
    """``GET /api/v1/traffic?window=hour|day``: per source, accepted and rejected events in each minute."""
    window = request.query_params.get("window", "hour")
    if window not in WINDOWS:
        raise GatewayError(f"window must be one of {', '.join(WINDOWS)}", code="invalid_query",
                           detail={"field": "window", "value": window[:64]})
    gateway = request.app.state.gateway
    answer = await per_minute(gateway.database, WINDOWS[window])
    for name in gateway.sources:  # every source has a line, quiet ones too
        answer["sources"].setdefault(name, {"accepted": [0] * answer["minutes"], "rejected": [0] * answer["minutes"]})
    return json_response({"window": window, **answer})
