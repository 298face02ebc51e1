"""Refused requests through a real server: the request log on stderr, ``gateway rejections``, slashes,
and errors that point the way."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.first_hour.support import CONFIG, WRITE_KEY, gateway_cli
from tests.support.server import RunningGateway, wait_until

BASIC = (WRITE_KEY, "")
ADMIN = {"Authorization": "Bearer first-hour-admin-key"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = RunningGateway(tmp_path_factory.mktemp("requests"), CONFIG).start()
    yield running
    running.close()


def refused_lines(gw: RunningGateway) -> list[str]:
    return [line for line in gw.stderr().splitlines() if "gateway.requests" in line]


def test_each_refused_request_leaves_one_line_without_the_key(gw: RunningGateway) -> None:
    before = len(refused_lines(gw))
    gw.post("/v1/track", json={"event": "e", "userId": "u"})
    gw.post("/v1/track", json={"event": "e", "userId": "u"}, auth=("not-the-key", ""))
    gw.post("/v1/track", json={"userId": "u"}, auth=BASIC)
    gw.post("/v1/trak", json={"event": "e", "userId": "u"}, auth=BASIC)
    wait_until(lambda: len(refused_lines(gw)) >= before + 4)
    lines = refused_lines(gw)[before:]
    assert "refused /v1/track source=- status=401 code=missing_key" in lines[0]
    assert "refused /v1/track source=- status=401 code=invalid_key" in lines[1]
    assert "refused /v1/track source=backend status=400 code=invalid_event: event is required" in lines[2]
    assert "refused /v1/trak source=- status=404 code=not_found" in lines[3]
    assert WRITE_KEY not in gw.stderr() and "not-the-key" not in gw.stderr()


def test_a_partly_rejected_batch_is_logged_and_listed_by_gateway_rejections(gw: RunningGateway) -> None:
    body = {"batch": [{"type": "track", "event": "ok", "userId": "u"}, {"type": "track", "userId": "u"}]}
    answer = gw.post("/v1/batch", json=body, auth=BASIC)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    wait_until(lambda: any("partly rejected /v1/batch" in line for line in refused_lines(gw)))
    line = next(line for line in refused_lines(gw) if "partly rejected /v1/batch" in line)
    assert "source=backend status=200 code=invalid_event: 1 of 2 events rejected" in line
    listed = gateway_cli("rejections", "--config", str(gw.config_path), cwd=gw.dir)
    assert listed.returncode == 0, listed.stderr
    assert "backend" in listed.stdout and "event is required" in listed.stdout and "batch[1].event" in listed.stdout
    as_json = gateway_cli("rejections", "--source", "backend", "--json", "--limit", "1",
                          "--config", str(gw.config_path), cwd=gw.dir)
    [row] = [json.loads(x) for x in as_json.stdout.splitlines()]
    assert row["field"] == "batch[1].event" and row["payload"] == {"type": "track", "userId": "u"}


def test_a_flood_of_refusals_is_rate_limited(gw: RunningGateway) -> None:
    before = len(refused_lines(gw))
    with httpx.Client(base_url=gw.url, timeout=10) as client:
        for _ in range(300):
            client.post("/v1/track", json={"event": "e"})
    gw.post("/v1/track", json={"event": "e"})
    wait_until(lambda: len(refused_lines(gw)) > before)
    written = refused_lines(gw)[before:]
    assert len(written) < 200, len(written)  # a burst of 50, then 10 a second
    gw.client.post("/v1/track", json={"event": "e"})
    import time

    time.sleep(1.2)
    gw.post("/v1/track", json={"event": "e"})
    wait_until(lambda: any("more refused requests not logged" in line for line in refused_lines(gw)[before:]))


@pytest.mark.parametrize("path", ["/v1/track/", "/analytics/v1/track/"])
def test_trailing_slashes_are_served_not_redirected(gw: RunningGateway, path: str) -> None:
    answer = gw.post(path, json={"event": "slash", "userId": "u"}, auth=BASIC)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text


def test_trailing_slashes_on_other_dialects_and_the_admin_api(gw: RunningGateway) -> None:
    filum = gw.post("/events/", json={"event_type": "track", "event_name": "x", "user_id": "u"},
                    headers={"Authorization": "Bearer first-hour-filum-key"})
    assert filum.status_code != 307 and filum.status_code < 500, filum.text
    source = gw.get("/api/v1/sources/backend/", headers=ADMIN)
    assert source.status_code == 200 and source.json()["source"]["name"] == "backend"
    missing = gw.get("/api/v1/webhooks/nope/", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["code"], missing.text
    unknown = gw.post("/v1/nothing/", json={})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


def test_the_openapi_document_names_each_route_once(gw: RunningGateway) -> None:
    paths = gw.get("/openapi.json").json()["paths"]
    assert "/v1/track" in paths and "/v1/track/" not in paths


@pytest.mark.parametrize(("path", "points_to"), [("/v1/track", "/v1/batch"),
                                                 ("/analytics/v1/identify", "/analytics/v1/batch")])
def test_a_batch_on_a_single_event_route_points_to_batch(gw: RunningGateway, path: str, points_to: str) -> None:
    answer = gw.post(path, json={"batch": [{"type": "track", "event": "e", "userId": "u"}]}, auth=BASIC)
    body = answer.json()
    assert answer.status_code == 400 and body["code"] == "wrong_route"
    assert f"POST it to {points_to}" in body["message"] and body["detail"]["expected"] == points_to


def test_one_event_on_the_batch_route_points_to_its_type(gw: RunningGateway) -> None:
    body = gw.post("/v1/batch", json={"type": "identify", "userId": "u"}, auth=BASIC).json()
    assert body["code"] == "wrong_route" and "POST it to /v1/identify" in body["message"]


def test_a_key_sent_as_the_basic_password_is_accepted(gw: RunningGateway) -> None:
    answer = gw.post("/v1/track", json={"event": "pw", "userId": "u"}, auth=("", WRITE_KEY))
    assert answer.status_code == 200, answer.text


def test_a_batch_message_reads_as_a_sentence_and_detail_does_not_repeat_it(gw: RunningGateway) -> None:
    body = gw.post("/v1/batch", json={"batch": [{"userId": "u"}]}, auth=BASIC).json()
    assert body["message"] == "1 of 1 events is invalid; the first, batch[0]: type is required", body
    missing = gw.post("/v1/track", json={"event": "e"}).json()
    assert set(missing) >= {"code", "message", "detail"} and missing["detail"] != missing["message"]
    assert re.search(r"missing key: send your source's key as the HTTP Basic user name", missing["message"])


def test_events_with_an_unknown_source_is_an_error(tmp_path: Path) -> None:
    text = CONFIG + '\n[[sinks]]\nname = "db"\ntype = "sqlite"\nurl = "sqlite+aiosqlite:///data/events.db"\n'
    running = RunningGateway(tmp_path, text).start()
    try:
        assert running.post("/v1/track", json={"event": "e", "userId": "u"}, auth=BASIC).status_code == 200
        result = gateway_cli("events", "--source", "nope", cwd=tmp_path)
        assert result.returncode == 2 and "unknown source 'nope'" in result.stderr, result.stderr
        known = gateway_cli("events", "--source", "crm", cwd=tmp_path)
        assert known.returncode == 0 and "No events." in known.stdout
    finally:
        running.close()
