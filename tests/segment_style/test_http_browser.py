"""What browser SDKs rely on, over real HTTP: CORS on every answer, short paths, beacon, pixel,
settings endpoints and per-source required fields."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.conftest import BASE_CONFIG, GatewayFactory
from tests.support.server import RunningGateway

KEY, LOCKED_KEY, LOOSE_KEY, TINY_KEY = "wk_web", "wk_locked", "wk_loose", "wk_tiny_web"
PAGE, OTHER = "http://127.0.0.1:5500", "https://evil.example"
GIF_MAGIC = b"GIF89a"

CONFIG = f"""
{BASE_CONFIG}
[[sources]]
name = "web"
dialect = "segment_style"
write_key = "{KEY}"

[[sources]]
name = "locked"
dialect = "segment_style"
write_key = "{LOCKED_KEY}"
allowed_origins = ["{PAGE}/"]

[[sources]]
name = "loose"
dialect = "segment_style"
write_key = "{LOOSE_KEY}"
require_identity = false
required_fields = {{track = [], group = [], alias = [], page = ["name"]}}

[[sources]]
name = "tiny"
dialect = "segment_style"
write_key = "{TINY_KEY}"
max_request_bytes = 200
rate_limit_per_second = 0.001
rate_limit_burst = 1

[[sinks]]
name = "console"
type = "stdout"
"""


@pytest.fixture(scope="module")
def gw(module_gateway_factory: GatewayFactory) -> RunningGateway:
    return module_gateway_factory(CONFIG)


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def cors_ok(response: httpx.Response, origin: str = PAGE) -> None:
    assert response.headers["access-control-allow-origin"] == origin
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers
    assert "Retry-After" in response.headers["access-control-expose-headers"]


# --- CORS -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/t", "/v1/track", "/analytics/v1/b", "/beacon/v1/batch", "/sourceConfig/",
                                  f"/v1/projects/{KEY}/settings", "/v1/m"])
def test_a_preflight_is_answered_with_the_origin_and_the_safe_headers(gw: RunningGateway, path: str) -> None:
    response = gw.client.options(path, headers={
        "Origin": PAGE, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,anonymousid,sentat,x-evil"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == PAGE
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "authorization, content-type, anonymousid, sentat"
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers


def test_every_answer_carries_cors_headers_errors_included(gw: RunningGateway) -> None:
    h = {"Origin": PAGE, "Content-Type": "text/plain"}
    ok = gw.post("/v1/t", headers={**h, **basic(KEY)}, content='{"event": "A", "anonymousId": "a1"}')
    assert ok.status_code == 200
    cors_ok(ok)
    answers = {
        401: gw.post("/v1/t", headers={**h, **basic("nope")}, content='{"event": "A"}'),
        400: gw.post("/v1/t", headers={**h, **basic(KEY)}, content='{"anonymousId": "a1"}'),
        413: gw.post("/v1/b", headers={**h, **basic(TINY_KEY)}, content="x" * 500),
    }
    gw.post("/v1/t", headers={**h, **basic(TINY_KEY)}, content='{"event": "A", "anonymousId": "a"}')
    answers[429] = gw.post("/v1/t", headers={**h, **basic(TINY_KEY)}, content='{"event": "A", "anonymousId": "a"}')
    for status, response in answers.items():
        assert response.status_code == status, response.text
        assert {"code", "message", "detail"} <= set(response.json())
        cors_ok(response)
    wrong_method = gw.get("/v1/t", headers={"Origin": PAGE})
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
    assert wrong_method.headers["access-control-allow-origin"] == PAGE
    no_origin = gw.post("/v1/t", headers=basic(KEY), json={"event": "A", "anonymousId": "a1"})
    assert no_origin.status_code == 200 and "access-control-allow-origin" not in no_origin.headers


def test_a_source_refuses_origins_it_does_not_allow_and_says_so(gw: RunningGateway) -> None:
    body = {"event": "A", "anonymousId": "locked-1"}
    for origin in (OTHER, "http://127.0.0.1:5501", "null"):
        refused = gw.post("/v1/track", headers={"Origin": origin, **basic(LOCKED_KEY)}, json=body)
        assert refused.status_code == 403 and refused.json()["code"] == "origin_not_allowed"
        cors_ok(refused, origin)
    assert gw.post("/v1/track", headers={"Origin": "HTTP://127.0.0.1:5500", **basic(LOCKED_KEY)},
                   json=body).status_code == 200
    # No Origin: not a browser; the origin list is a browser rule (anyone else can send any header).
    assert gw.post("/v1/track", headers=basic(LOCKED_KEY), json=body).status_code == 200
    settings = gw.get(f"/v1/projects/{LOCKED_KEY}/settings", headers={"Origin": OTHER})
    assert settings.status_code == 403
    cors_ok(settings, OTHER)


def test_server_cors_origins_refuse_every_other_origin(gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(CONFIG.replace(BASE_CONFIG, BASE_CONFIG + f'\n[server]\ncors_origins = ["{PAGE}"]\n'))
    body = {"event": "A", "anonymousId": "a"}
    assert gw.post("/v1/t", headers={"Origin": PAGE, **basic(KEY)}, json=body).status_code == 200
    refused = gw.post("/v1/t", headers={"Origin": OTHER, **basic(KEY)}, json=body)
    assert refused.status_code == 403 and refused.json()["detail"]["allowed"] == [PAGE]


@pytest.mark.parametrize("bad", ['cors_origins = ["example.com"]', 'cors_origins = ["https://a.com/path"]'])
def test_a_bad_origin_in_the_config_stops_start_up(gateway_factory: GatewayFactory, bad: str) -> None:
    gw = gateway_factory(CONFIG.replace(BASE_CONFIG, BASE_CONFIG + f"\n[server]\n{bad}\n"), run=False)
    with pytest.raises(RuntimeError, match="cors_origins"):
        gw.start()


# --- short paths, /v1/m -----------------------------------------------------------------------------

@pytest.mark.parametrize(("short", "kind", "body"), [
    ("t", "track", {"event": "A"}), ("i", "identify", {}), ("p", "page", {"name": "Home"}),
    ("s", "screen", {"name": "Home"}), ("g", "group", {"groupId": "g1"}), ("a", "alias", {"previousId": "p1"}),
])
def test_short_paths_take_their_type(gw: RunningGateway, short: str, kind: str, body: dict[str, Any]) -> None:
    marker = f"short-{short}"
    for prefix in ("/v1", "/analytics/v1"):
        response = gw.post(f"{prefix}/{short}", headers={"Content-Type": "text/plain"},
                           content=httpx.Request("POST", "/", json={**body, "userId": marker,
                                                                   "writeKey": KEY}).content)
        assert response.status_code == 200, response.text
    events = gw.wait_for_stdout_events(2, where=lambda e: e.get("userId") == marker)
    assert [e["type"] for e in events] == [kind, kind] and all("writeKey" not in e for e in events)
    mismatch = gw.post(f"/v1/{short}", headers=basic(KEY), json={**body, "userId": "u", "type": "nope"})
    assert mismatch.status_code == 400 and mismatch.json()["code"] == "type_mismatch"


def test_b_takes_a_batch_and_m_is_acknowledged_without_events(gw: RunningGateway) -> None:
    batch = {"writeKey": KEY, "batch": [{"type": "track", "event": "B", "userId": "short-b"},
                                        {"type": "page", "name": "P", "userId": "short-b"}]}
    assert gw.post("/v1/b", content=httpx.Request("POST", "/", json=batch).content).status_code == 200
    assert [e["type"] for e in gw.wait_for_stdout_events(2, where=lambda e: e.get("userId") == "short-b")] == [
        "track", "page"]
    before = len(gw.stdout_events())
    metrics = gw.post("/v1/m", headers={"Origin": PAGE}, content='{"series": [{"type": "Counter"}]}')
    assert metrics.status_code == 200
    cors_ok(metrics)
    assert gw.post("/v1/m", content="x" * 70_000).status_code == 413
    assert len(gw.stdout_events()) == before


# --- beacon and pixel --------------------------------------------------------------------------------

def test_beacon_takes_the_key_from_the_query(gw: RunningGateway) -> None:
    body = '{"batch": [{"type": "track", "event": "Left", "anonymousId": "beacon-1"}], "sentAt": null}'
    ok = gw.post(f"/beacon/v1/batch?writeKey={KEY}", headers={"Content-Type": "text/plain", "Origin": PAGE},
                 content=body)
    assert ok.status_code == 200
    cors_ok(ok)
    [event] = gw.wait_for_stdout_events(1, where=lambda e: e.get("anonymousId") == "beacon-1")
    assert event["source"]["name"] == "web"
    missing = gw.post("/beacon/v1/batch", content=body)
    assert missing.status_code == 401 and "writeKey query parameter" in missing.json()["message"]
    assert gw.post("/beacon/v1/batch?writeKey=nope", content=body).status_code == 401
    # The beacon route takes its key only from the query: Basic alone is not enough there.
    assert gw.post("/beacon/v1/batch", headers=basic(KEY), content=body).status_code == 401


def test_the_pixel_maps_dotted_parameters_and_always_answers_a_gif(gw: RunningGateway) -> None:
    ok = gw.get("/pixel/v1/track", params={
        "writeKey": KEY, "anonymousId": "pixel-1", "event": "Email Opened", "properties.campaign": "may",
        "context.page.url": "https://mail.example/x", "context.library.name": "pixel"})
    assert ok.status_code == 200 and ok.content.startswith(GIF_MAGIC)
    assert ok.headers["content-type"] == "image/gif" and "no-store" in ok.headers["cache-control"]
    assert "x-gateway-error" not in ok.headers
    [event] = gw.wait_for_stdout_events(1, where=lambda e: e.get("anonymousId") == "pixel-1")
    assert event["type"] == "track" and event["event"] == "Email Opened" and "writeKey" not in event
    assert event["properties"] == {"campaign": "may"}
    assert event["context"]["page"] == {"url": "https://mail.example/x"}
    page = gw.get("/pixel/v1/page", params={"writeKey": KEY, "anonymousId": "pixel-2", "name": "Home"})
    assert page.status_code == 200
    assert gw.wait_for_stdout_events(1, where=lambda e: e.get("anonymousId") == "pixel-2")[0]["type"] == "page"


@pytest.mark.parametrize(("params", "reason"), [
    ({"anonymousId": "x", "event": "E"}, "401 missing_key"),
    ({"writeKey": "nope", "anonymousId": "x", "event": "E"}, "401 invalid_key"),
    ({"writeKey": KEY, "anonymousId": "x"}, "400 invalid_event"),
    ({"writeKey": KEY, "event": "E"}, "400 missing_identity"),
    ({"writeKey": KEY, "anonymousId": "x", "event": "E", "a..b": "1"}, "400 invalid_query"),
])
def test_a_refused_pixel_still_gets_its_gif_and_says_why(gw: RunningGateway, params: dict[str, str],
                                                         reason: str) -> None:
    before = gw.get("/metrics").text
    refused = gw.get("/pixel/v1/track", params=params)
    assert refused.status_code == 200 and refused.content.startswith(GIF_MAGIC)
    assert refused.headers["x-gateway-error"] == reason
    counted = f'gateway_requests_total{{route="/pixel/v1/track",status="{reason[:3]}"}}'
    assert _count(gw.get("/metrics").text, counted) == _count(before, counted) + 1


def _count(metrics: str, series: str) -> float:
    lines = [line for line in metrics.splitlines() if line.startswith(series)]
    return float(lines[0].split()[-1]) if lines else 0.0


# --- settings endpoints --------------------------------------------------------------------------------

def test_analytics_js_settings_point_at_this_gateway(gw: RunningGateway) -> None:
    response = gw.get(f"/v1/projects/{KEY}/settings", headers={"Origin": PAGE})
    assert response.status_code == 200
    cors_ok(response)
    segment_io = response.json()["integrations"]["Segment.io"]
    host = gw.url.removeprefix("http://")
    assert (segment_io["apiKey"], segment_io["apiHost"], segment_io["protocol"]) == (KEY, f"{host}/v1", "http")
    assert response.json()["remotePlugins"] == [] and list(response.json()["integrations"]) == ["Segment.io"]
    unknown = gw.get("/v1/projects/nope/settings", headers={"Origin": PAGE})
    assert unknown.status_code == 401 and unknown.json()["code"] == "invalid_key"
    cors_ok(unknown)
    assert gw.get(f"/v1/projects/{KEY}/settings", headers={"Host": "a/b"}).status_code == 400


def test_rudderstack_source_config_names_the_source_without_destinations(gw: RunningGateway) -> None:
    by_query = gw.get("/sourceConfig/", params={"p": "npm", "v": "3.34.1", "writeKey": KEY})
    by_basic = gw.get("/sourceConfig/", headers=basic(KEY))
    for response in (by_query, by_basic):
        assert response.status_code == 200
        source = response.json()["source"]
        assert (source["name"], source["enabled"], source["writeKey"], source["destinations"]) == (
            "web", True, KEY, [])
        assert source["id"] and isinstance(source["config"], dict)
    for answer in (gw.get("/sourceConfig/", params={"writeKey": "nope"}), gw.get("/sourceConfig/")):
        assert answer.status_code == 401 and answer.json()["code"] in ("invalid_key", "missing_key")


# --- required fields per type ---------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "body"), [
    ("/analytics/v1/track", {}), ("/analytics/v1/group", {}), ("/analytics/v1/alias", {}),
    ("/analytics/v1/identify", {}), ("/analytics/v1/screen", {}), ("/analytics/v1/page", {"name": "Home"}),
])
def test_a_source_may_require_nothing_but_its_key(gw: RunningGateway, path: str, body: dict[str, Any]) -> None:
    response = gw.post(path, json={**body, "writeKey": LOOSE_KEY, "properties": {"mark": path}})
    assert response.status_code == 200, response.text
    # The defaults still hold for the other sources.
    default = gw.post(path, json={"writeKey": KEY, "userId": "u"})
    assert default.status_code == (400 if path.rsplit("/", 1)[1] in ("track", "group", "alias") else 200)


def test_a_type_listed_in_required_fields_replaces_its_default(gw: RunningGateway) -> None:
    refused = gw.post("/analytics/v1/page", json={"writeKey": LOOSE_KEY})
    assert refused.status_code == 400
    assert (refused.json()["code"], refused.json()["detail"]["field"]) == ("invalid_event", "name")
    batch = gw.post("/v1/batch", json={"writeKey": LOOSE_KEY, "batch": [{"type": "page"}, {"type": "track"}]})
    assert batch.status_code == 200 and batch.json()["rejected"][0]["field"] == "batch[0].name"


def test_required_fields_in_the_config_are_checked(gateway_factory: GatewayFactory) -> None:
    bad = CONFIG.replace("page = [\"name\"]", "purchase = [\"name\"]")
    gw = gateway_factory(bad, run=False)
    with pytest.raises(RuntimeError, match="required_fields"):
        gw.start()


def test_openapi_describes_beacon_and_pixel_as_they_are(gw: RunningGateway) -> None:
    doc = gw.get("/openapi.json").json()
    pixel = doc["paths"]["/pixel/v1/track"]["get"]
    assert "requestBody" not in pixel and list(pixel["responses"]["200"]["content"]) == ["image/gif"]
    assert pixel["security"] == [{"query_writeKey": []}]
    assert doc["components"]["securitySchemes"]["query_writeKey"]["name"] == "writeKey"
    assert doc["paths"]["/beacon/v1/batch"]["post"]["security"] == [{"query_writeKey": []}]
    assert "options" not in doc["paths"]["/v1/t"]
