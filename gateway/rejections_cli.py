"""``gateway rejections``: the events the gateway refused lately, newest first, and why.

It reads the durable log's rejections table directly, so it works while the gateway runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from gateway.config import Config, ConfigError

COLUMNS = ("RECEIVED AT", "SOURCE", "INDEX", "CODE", "FIELD", "REASON")


async def _fetch(config: Config, source: str | None, limit: int) -> tuple[set[str], list[Any]]:
    """The sources the log has counters for (API-made ones included), and the newest rejections."""
    from sqlalchemy import select

    from gateway.storage.database import Database
    from gateway.storage.tables import rejection_table, stats_table

    database = Database(config.storage.url, config.config_dir, synchronous=config.storage.synchronous)
    try:
        stmt = select(rejection_table)
        if source is not None:
            stmt = stmt.where(rejection_table.c.source == source)
        async with database.engine.connect() as conn:
            known = set((await conn.execute(select(stats_table.c.source))).scalars())
            rows = list((await conn.execute(stmt.order_by(rejection_table.c.id.desc()).limit(limit))).all())
        return known, rows
    finally:
        await database.engine.dispose()


def _no_log_yet(config: Config) -> bool:
    """A SQLite log file the gateway never created: nothing refused yet (and nothing to create here)."""
    url = config.storage.url
    if not url.startswith("sqlite") or ":///" not in url:
        return False
    path = Path(url.split(":///", 1)[1])
    return str(path) != ":memory:" and not (config.config_dir / path).exists()


def _row_json(row: Any) -> dict[str, Any]:
    from gateway.admin.views import rejection_json

    return rejection_json(row)


def run(args: argparse.Namespace, config: Config) -> int:
    import orjson

    if args.limit < 1:
        raise ConfigError("--limit must be 1 or more")
    if _no_log_yet(config):
        known: set[str] = set()
        rows: list[Any] = []
    else:
        try:
            known, rows = asyncio.run(_fetch(config, args.source, args.limit))
        except Exception as exc:  # a database that does not answer, or not the gateway's
            raise ConfigError(f"{config.path}: [storage] url: cannot read the durable log: {exc}") from None
    names = known | {s.name for s in config.sources}
    if args.source is not None and args.source not in names:
        raise ConfigError(f"unknown source {args.source!r}; known sources: {', '.join(sorted(names)) or 'none'}")
    if args.json:
        for row in rows:
            sys.stdout.write(orjson.dumps(_row_json(row)).decode() + "\n")
        return 0
    if not rows:
        print("No rejections." + (f" (source {args.source})" if args.source else ""))
        return 0
    table = [COLUMNS]
    for row in rows:
        r = _row_json(row)
        table.append((r["received_at"] or "", row.source, "" if r["index"] is None else str(r["index"]),
                      r["code"], r["field"] or "", r["reason"][:120]))
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS) - 1)]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "  " + line[-1])
    return 0
