"""Shared bits of the admin tests: configs, the admin header, small API helpers."""

from __future__ import annotations

from typing import Any

from tests.conftest import PROBE_CONFIG
from tests.support.server import RunningGateway

ADMIN_KEY = "test-admin-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}

CONFIG = PROBE_CONFIG


def create(gw: RunningGateway, name: str, dialect: str = "probe", **settings: Any) -> dict[str, Any]:
    r = gw.post("/api/v1/sources", json={"name": name, "dialect": dialect, **settings}, headers=ADMIN)
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


def get(gw: RunningGateway, path: str, **params: Any) -> Any:
    r = gw.get(path, headers=ADMIN, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def send(gw: RunningGateway, key: str, **event: Any) -> None:
    r = gw.post("/probe/track", json={"event": "signed_up", **event}, auth=(key, ""))
    assert r.status_code == 200, r.text
