"""Issue 14, finding 1: another source must not be able to erase an event by reusing its message id.

Repro, as an attacker holding a (public) key of one source: post an event whose id is the id a
victim in another source will use, then let the victim post. Both answers are 200; both events must
reach the SQLite sink, and only a true repeat (same source, same id) may be skipped, counted as a
duplicate rather than as delivered.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from tests.support.server import RunningGateway, wait_until

from .support import FILUM_KEY, SEGMENT_KEY, config

CONFIG = config({"name": "events-db", "type": "sqlite", "url": "sqlite+aiosqlite:///data/events.db"})
VICTIM_ID = "victim-order-42"


def stored(gw: RunningGateway) -> list[tuple[str, str, str | None]]:
    path: Path = gw.dir / "data" / "events.db"
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=5) as db:
        try:
            return db.execute("SELECT source_name, message_id, event FROM events ORDER BY id").fetchall()
        except sqlite3.OperationalError:
            return []


def metric(gw: RunningGateway, name: str, sink: str = "events-db") -> float:
    text = gw.get("/metrics").text
    match = re.search(rf'^{name}_total{{sink="{sink}"}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def track(gw: RunningGateway, message_id: str, event: str) -> None:
    body: dict[str, Any] = {"userId": "u-1", "event": event, "messageId": message_id}
    r = gw.post("/v1/track", json=body, auth=(SEGMENT_KEY, ""))
    assert r.status_code == 200, r.text


def test_a_message_id_from_another_source_erases_nothing(gateway_factory: Any) -> None:
    gw = gateway_factory(CONFIG)
    # The attacker, with the crm source's key, goes first.
    r = gw.post("/events", json={"event_type": "track", "event_name": "Fake", "user_id": "x",
                                 "event_id": VICTIM_ID}, headers={"Authorization": f"Bearer {FILUM_KEY}"})
    assert r.status_code == 200, r.text
    wait_until(lambda: len(stored(gw)) == 1, message="the attacker's event in the sink")
    track(gw, VICTIM_ID, "Order Completed")  # the victim's real event, in the backend source
    wait_until(lambda: len(stored(gw)) == 2, message="the victim's event in the sink too")
    assert sorted(stored(gw)) == [("backend", VICTIM_ID, "Order Completed"), ("crm", VICTIM_ID, "Fake")]
    # The metric follows the sink's commit (after the cursor is saved): wait for it too.
    wait_until(lambda: metric(gw, "gateway_sink_delivered_events") == 2, message="both counted as delivered")
    assert metric(gw, "gateway_sink_duplicate_events") == 0

    # A true repeat (the backend resending its event) is skipped, and counted as such.
    track(gw, VICTIM_ID, "Order Completed")
    wait_until(lambda: metric(gw, "gateway_sink_duplicate_events") == 1, message="the repeat counted")
    assert metric(gw, "gateway_sink_delivered_events") == 2
    assert len(stored(gw)) == 2


def test_a_hash_shaped_id_cannot_take_the_place_of_a_long_id(gateway_factory: Any) -> None:
    """Ids over 512 characters are stored as their hash: sending that hash as an id must not pre-empt them."""
    import hashlib

    gw = gateway_factory(CONFIG)
    long_id = "order-" + "9" * 600
    track(gw, "sha256:" + hashlib.sha256(long_id.encode()).hexdigest(), "Preempt")
    track(gw, long_id, "Order Completed")
    wait_until(lambda: len(stored(gw)) == 2, message="both events in the sink")
    wait_until(lambda: metric(gw, "gateway_sink_delivered_events") == 2, message="both counted as delivered")
    assert metric(gw, "gateway_sink_duplicate_events") == 0
