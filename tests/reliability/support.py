"""What the reliability tests share: a gateway speaking every dialect, and how to read what it kept."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import BASE_CONFIG
from tests.support.server import RunningGateway, wait_until

ADMIN = {"Authorization": "Bearer test-admin-key"}
SEGMENT_KEY = "seg-write-key-0123456789"
FILUM_KEY = "filum-write-key-0123456789"
UM_API_KEY = "UMreliable01"
UM_SERVER_TOKEN = "sec_reliability_server_token_0123"
UM_TOKEN = f"{UM_API_KEY}.{UM_SERVER_TOKEN}"
PH_KEY = "phc_reliability_key_0123456789"
SECRETS = (SEGMENT_KEY, FILUM_KEY, UM_SERVER_TOKEN, PH_KEY, "test-admin-key")

SOURCES = f"""
[[sources]]
name = "backend"
dialect = "segment_style"
write_key = "{SEGMENT_KEY}"

[[sources]]
name = "crm"
dialect = "filum"
write_key = "{FILUM_KEY}"

[[sources]]
name = "site"
dialect = "usermaven"
api_key = "{UM_API_KEY}"
server_token = "{UM_SERVER_TOKEN}"

[[sources]]
name = "product"
dialect = "posthog"
api_key = "{PH_KEY}"
"""


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # JSON strings, numbers and string arrays are valid TOML


def config(*sinks: dict[str, Any], storage: dict[str, Any] | None = None, server: dict[str, Any] | None = None,
           sources: str = SOURCES) -> str:
    """Every dialect's source, the given ``[[sinks]]`` tables and extra ``[storage]``/``[server]`` keys."""
    base = BASE_CONFIG
    if storage:
        base = base.replace("[storage]\n", "[storage]\n" + "".join(f"{k} = {toml_value(v)}\n"
                                                                  for k, v in storage.items()), 1)
    parts = [base, sources]
    for sink in sinks:
        parts.append("[[sinks]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in sink.items()))
    if server:
        parts.append("[server]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in server.items()))
    return "\n".join(parts)


STDOUT = {"name": "console", "type": "stdout"}


def sqlite_sink(path: str = "data/events.db", **extra: Any) -> dict[str, Any]:
    return {"name": "events-db", "type": "sqlite", "url": f"sqlite+aiosqlite:///{path}",
            "retry_initial_seconds": 0.2, "retry_max_seconds": 0.5, **extra}


def webhook_sink(target: str, **extra: Any) -> dict[str, Any]:
    return {"name": "partner", "type": "webhook", "target": target, "batch_max_events": 200,
            "batch_max_seconds": 0.5, "retry_initial_seconds": 0.2, "retry_max_seconds": 0.5, **extra}


# -- one event per dialect, each with a messageId the test chooses --------------------------------

def segment_batch(ids: list[str]) -> tuple[str, dict[str, Any]]:
    return "/v1/batch", {"batch": [{"type": "track", "event": "Reliable", "userId": "u1", "messageId": m}
                                   for m in ids]}


def filum_events(ids: list[str]) -> tuple[str, list[dict[str, Any]]]:
    return "/events", [{"event_type": "track", "event_name": "Reliable", "user_id": "u1", "event_id": m}
                       for m in ids]


def usermaven_events(ids: list[str]) -> tuple[str, list[dict[str, Any]]]:
    return f"/api/v1/s2s/event?token={UM_TOKEN}", [
        {"api_key": UM_API_KEY, "event_type": "reliable", "event_id": m, "user": {"id": "u1"}} for m in ids]


def post_events(client: httpx.Client, dialect: str, ids: list[str]) -> httpx.Response:
    """Post ``ids`` as one request in ``dialect``'s own format and auth style."""
    if dialect == "segment_style":
        path, body = segment_batch(ids)
        return client.post(path, json=body, auth=(SEGMENT_KEY, ""))
    if dialect == "filum":
        path, items = filum_events(ids)
        return client.post(path, json=items, headers={"Authorization": f"Bearer {FILUM_KEY}"})
    path, items = usermaven_events(ids)
    return client.post(path, json=items)


DIALECTS = ("segment_style", "filum", "usermaven")


def right_auth(dialect: str) -> dict[str, Any]:
    """httpx keyword arguments that present ``dialect``'s source key in the dialect's own auth style."""
    if dialect == "segment_style":
        return {"headers": {"Authorization": "Basic " + base64.b64encode(f"{SEGMENT_KEY}:".encode()).decode()}}
    if dialect == "filum":
        return {"headers": {"Authorization": f"Bearer {FILUM_KEY}"}}
    if dialect == "posthog":
        return {}  # its key travels in the body (test_fuzz puts it there)
    return {"params": {"token": UM_TOKEN}}


def log_ids(db_path: Path) -> set[str]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT json_extract(CAST(event AS TEXT), '$.messageId') FROM event_log").fetchall()
    return {r[0] for r in rows}


def sink_ids(db_path: Path) -> list[str]:
    """Every message_id row of the SQLite sink (a list: duplicates would show)."""
    if not db_path.exists():
        return []
    with sqlite3.connect(db_path, timeout=5) as db:
        try:
            return [r[0] for r in db.execute("SELECT message_id FROM events").fetchall()]
        except sqlite3.OperationalError:
            return []  # the sink has not made its table yet


def assert_json_error(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert {"code", "message", "detail"} <= body.keys(), body
    return body


def wait_for_lease(gw: RunningGateway, sink: str, timeout: float = 30) -> None:
    """Until a delivery process holds every partition of ``sink``: traffic sent earlier is all in the log
    when the sink starts, so it comes as one batch, not as the batching window would cut it."""
    def held() -> bool:
        leases = gw.get("/api/v1/status", headers=ADMIN).json()["leases"]
        mine = [lease for lease in leases if lease["sink"] == sink]
        return bool(mine) and all(lease["owner"] for lease in mine)

    wait_until(held, timeout=timeout, message=f"sink {sink} holds its leases")


def send_rounds(client: httpx.Client, rounds: int, pause: float = 0.0, per_request: int = 4) -> set[str]:
    """``rounds`` requests per dialect of ``per_request`` events, each answered 200; the messageIds sent."""
    sent: set[str] = set()
    for _ in range(rounds):
        for dialect in DIALECTS:
            ids = [str(uuid.uuid4()) for _ in range(per_request)]
            r = post_events(client, dialect, ids)
            assert r.status_code == 200, r.text
            sent.update(ids)
        time.sleep(pause)
    return sent
