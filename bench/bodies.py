"""The request bodies the benchmark sends: realistic events of each dialect, built once and reused.

No body carries a message id, so the gateway mints one per event (as for a plain HTTP client) and
the SQLite sink, idempotent on message ids, stores every event instead of skipping repeats.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

SEGMENT_KEY = "bench-segment-write-key"
FILUM_KEY = "bench-filum-write-key"
USERMAVEN_API_KEY = "UMbench0001"
USERMAVEN_TOKEN = "sec_bench_server_token"
PROBE_KEY = "bench-probe-write-key"

SEND_TIME = "2024-07-15T07:58:13.120Z"


def basic_auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def segment_track(i: int = 0) -> dict[str, Any]:
    """About 500 bytes: what analytics-python sends for a typical e-commerce event."""
    return {
        "type": "track",
        "userId": f"user-{i % 977}",
        "event": "Order Completed",
        "properties": {
            "orderId": f"order-{i}",
            "revenue": 42.5,
            "currency": "EUR",
            "products": [{"sku": "sku-1", "price": 19.99, "quantity": 1},
                         {"sku": "sku-7", "price": 22.51, "quantity": 1}],
        },
        "context": {"library": {"name": "analytics-python", "version": "2.3.2"},
                    "locale": "en-GB", "timezone": "Europe/London"},
        "timestamp": "2024-07-15T07:58:12.500Z",
    }


def segment_single() -> bytes:
    event = segment_track()
    del event["type"]  # the route names it
    return orjson.dumps(event)


def segment_batch(n: int) -> bytes:
    return orjson.dumps({"batch": [segment_track(i) for i in range(n)], "sentAt": SEND_TIME})


def filum_array(n: int) -> bytes:
    return orjson.dumps([{
        "event_type": "track",
        "event_name": "Purchase",
        "user_id": f"user-{i % 977}",
        "timestamp": "2024-07-15T07:58:13Z",
        "event_params": [
            {"key": "order_id", "value": {"string_value": f"order-{i}"}},
            {"key": "amount", "value": {"double_value": 42.5}},
            {"key": "items", "value": {"int_value": 2}},
            {"key": "paid_at", "value": {"datetime_value": "2024-07-15T07:58:13Z"}},
        ],
        "context": {"library": {"name": "filum-python", "version": "1.0.0"}},
    } for i in range(n)])


def usermaven_bulk(n: int) -> bytes:
    return orjson.dumps([{
        "api_key": USERMAVEN_API_KEY,
        "event_id": "",
        "event_type": "plan_upgraded",
        "_timestamp": 1632150122000 + i,
        "event_attributes": {"amount": 100, "currency": "USD"},
        "ids": {},
        "user": {"anonymous_id": "random_id", "id": f"user-{i % 977}", "email": "user@domain.com",
                 "created_at": "2021-01-20T09:55:35", "first_name": "John", "last_name": "Smith",
                 "custom": {"plan_name": "premium"}},
        "company": {"id": "65f02acc-e104-45d9-8199-1491332d8454", "name": "azhar",
                    "created_at": "2022-02-15T17:25:08", "custom": {"plan": "premium"}},
        "src": "http",
    } for i in range(n)])


def probe_single() -> bytes:
    event = segment_track()
    del event["type"]
    return orjson.dumps(event)


def probe_batch(n: int) -> bytes:
    events = []
    for i in range(n):
        event = segment_track(i)
        del event["type"]
        events.append(event)
    return orjson.dumps({"batch": events})
