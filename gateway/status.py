"""``gateway status``: the delivery processes alive, their leases, lag per sink and partition."""

from __future__ import annotations

import asyncio
import json

from gateway.config import Config
from gateway.delivery.leases import LeaseStore
from gateway.delivery.view import Snapshot, snapshot
from gateway.storage.database import Database, state_url
from gateway.storage.queries import LogReader


async def read_status(config: Config) -> Snapshot:
    log_db = Database(config.storage.url, config.config_dir)
    url = state_url(log_db.url)
    state_db = log_db if url == log_db.url else Database(url, config.config_dir)
    try:
        return await snapshot(LeaseStore(state_db, owner=""), LogReader(log_db))
    finally:
        await log_db.dispose()
        if state_db is not log_db:
            await state_db.dispose()


def print_status(config: Config, as_json: bool = False) -> int:
    snap = asyncio.run(read_status(config))
    if as_json:
        print(json.dumps(snap.as_json(), indent=2, default=str))
        return 0
    print(f"delivery processes alive: {len(snap.processes)}")
    for p in snap.processes:
        report = p["report"]
        leases = ", ".join(f"{s}/{n}" for s, n, _ in report.get("leases", [])) or "none"
        stuck = [s for s, f in report.get("sinks", {}).items() if f.get("stuck_seconds")]
        print(f"  {p['host']} pid {p['pid']}: sinks {', '.join(p['sinks']) or 'none'}; leases {leases}"
              + (f"; STUCK: {', '.join(stuck)}" if stuck else ""))
    print(f"partitions: {len(snap.heads)}")
    for lease in snap.leases:
        owner = lease["owner"] or "nobody (free or expired)"
        print(f"  sink {lease['sink']} partition {lease['partition']}: cursor {lease['cursor']} of "
              f"{lease['head']} (lag {lease['lag']}), epoch {lease['epoch']}, held by {owner}")
    for sink, lag in sorted(snap.lag().items()):
        print(f"sink {sink}: lag {lag} events")
    return 0
