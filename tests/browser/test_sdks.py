"""The official browser SDKs, from npm, on a page of another origin, sending to a real gateway.

Only the hosts change (analytics-next: ``cdnURL``; RudderStack: ``dataPlaneUrl`` and ``configUrl``).
Every request the page makes is recorded; one that leaves 127.0.0.1 is refused and fails the test,
so the settings endpoints must be all the SDKs need. Each call must arrive exactly once: a browser
hides an answer without CORS headers from the SDK, which then sends the event again.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import BASE_CONFIG, GatewayFactory
from tests.support.server import RunningGateway

from .drivers import RUDDERSTACK, SEGMENT, SEGMENT_SNIPPET

KEY = "wk_browser_page"
LOCKED_KEY = "wk_browser_locked"
SEGMENT_TYPES = ["identify", "track", "page", "group", "alias", "screen"]
RUDDER_TYPES = ["identify", "track", "page", "group", "alias"]
# Long enough for an SDK's first retry of an answer it could not read (analytics-next: about 1 s).
QUIET_SECONDS = 2.5


def config(allowed: str) -> str:
    return f"""
{BASE_CONFIG}
[[sources]]
name = "web"
dialect = "segment_style"
write_key = "{KEY}"

[[sources]]
name = "locked"
dialect = "segment_style"
write_key = "{LOCKED_KEY}"
allowed_origins = ["{allowed}"]

[[sinks]]
name = "console"
type = "stdout"

[[sinks]]
name = "events-db"
type = "sqlite"
url = "sqlite+aiosqlite:///data/events.db"
batch_max_seconds = 0
"""


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory, page_origin: str) -> RunningGateway:
    return module_gateway_factory(config(page_origin))


@dataclass
class Page:
    page: Any
    requests: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(browser: Any, gateway: RunningGateway) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_(origin: str, sdk: str) -> Page:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        seen = Page(page)
        allowed = {urlsplit(origin).netloc, urlsplit(gateway.url).netloc}

        def route(r: Any) -> None:
            url = r.request.url
            seen.requests.append((r.request.method, url))
            if urlsplit(url).netloc in allowed:
                r.continue_()
            else:
                seen.refused.append(url)
                r.abort()

        context.route("**/*", route)
        page.goto(f"{origin}/{sdk}.html")
        return seen

    yield open_
    for context in contexts:
        context.close()


def run(seen: Page, driver: str, gateway: RunningGateway, key: str = KEY, wait_ms: int = 10_000,
        **options: Any) -> dict[str, Any]:
    result: dict[str, Any] = seen.page.evaluate(driver, {"gateway": gateway.url, "key": key, "options": options,
                                                         "waitMs": wait_ms})
    return result


def pump(seen: Page, seconds: float) -> None:
    """Wait while the browser runs: Playwright's sync API serves the request routes (and so lets
    the SDK's queued requests go) only inside its own calls, never during time.sleep."""
    seen.page.wait_for_timeout(seconds * 1000)


def wait_for(seen: Page, found: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value or time.monotonic() > deadline:
            return value
        pump(seen, 0.1)


def arrived(gateway: RunningGateway, seen: Page, n: int, anonymous: str) -> list[dict[str, Any]]:
    def mine() -> list[dict[str, Any]]:
        return [e for e in gateway.stdout_events() if e.get("anonymousId") == anonymous]

    events = wait_for(seen, lambda: len(mine()) >= n)
    assert events, f"expected {n} events, got {len(mine())}:\n{gateway.stderr()[-2000:]}"
    pump(seen, QUIET_SECONDS)  # then no copy may follow
    return mine()


def sqlite_message_ids(gateway: RunningGateway, seen: Page, anonymous: str, n: int) -> list[str]:
    path = gateway.dir / "data" / "events.db"

    def ids() -> list[str]:
        if not path.exists():
            return []
        conn = sqlite3.connect(path, timeout=5)
        try:
            return [r[0] for r in conn.execute("SELECT message_id FROM events WHERE anonymous_id = ?", (anonymous,))]
        except sqlite3.OperationalError:
            return []  # the sink has not made its table yet
        finally:
            conn.close()

    wait_for(seen, lambda: len(ids()) >= n)
    return ids()


def check_arrival(gateway: RunningGateway, seen: Page, anonymous: str, types: list[str]) -> list[dict[str, Any]]:
    events = arrived(gateway, seen, len(types), anonymous)
    counts = Counter(e["messageId"] for e in events)
    assert all(n == 1 for n in counts.values()), f"events sent more than once: {counts}"
    assert sorted(e["type"] for e in events) == sorted(types)
    assert sorted(sqlite_message_ids(gateway, seen, anonymous, len(types))) == sorted(counts)
    assert seen.refused == [], f"requests left the page's and the gateway's hosts: {seen.refused}"
    for event in events:
        assert event["source"]["name"] == "web" and "writeKey" not in event
        assert event["context"]["userAgent"].startswith("Mozilla/")
        assert event["context"]["page"]["url"].startswith("http://127.0.0.1:")
    return events


def gateway_calls(seen: Page, gateway: RunningGateway) -> list[str]:
    """``METHOD path`` of each request the page sent to the gateway (preflights are not listed)."""
    netloc = urlsplit(gateway.url).netloc
    return [f"{method} {urlsplit(url).path}" for method, url in seen.requests if urlsplit(url).netloc == netloc]


def test_analytics_next_sends_each_call_once_to_its_short_path(
        open_page: Any, gateway: RunningGateway, page_origin: str) -> None:
    seen = open_page(page_origin, "segment")
    result = run(seen, SEGMENT, gateway)
    assert result.get("failed") == [] and result["errors"] == [], result
    events = check_arrival(gateway, seen, result["anonymousId"], SEGMENT_TYPES)
    assert sorted(e["messageId"] for e in events) == sorted(result["messageIds"])
    assert sorted(gateway_calls(seen, gateway)) == sorted(
        [f"GET /v1/projects/{KEY}/settings"] + [f"POST /v1/{t[0]}" for t in SEGMENT_TYPES])
    by_type = {e["type"]: e for e in events}
    library = by_type["track"]["context"]["library"]
    assert library == {"name": "analytics.js", "version": "next-1.84.3"}
    assert by_type["identify"]["traits"] == {"email": "ada@example.com", "plan": "pro"}
    assert by_type["alias"]["previousId"] == "anon-web" and by_type["alias"]["userId"] == "web-user"
    assert by_type["page"]["context"]["page"]["url"] == f"{page_origin}/segment.html"


def test_the_analytics_js_snippet_form_needs_only_cdn_set(
        open_page: Any, gateway: RunningGateway, page_origin: str) -> None:
    seen = open_page(page_origin, "segment")
    seen.page.evaluate(SEGMENT_SNIPPET, {"gateway": gateway.url, "key": KEY,
                                         "library": "/node_modules/@segment/analytics-next/dist/umd/standalone.js"})
    wait_for(seen, lambda: seen.page.evaluate("typeof window.analytics.user === 'function'"))
    check_arrival(gateway, seen, seen.page.evaluate("window.analytics.user().anonymousId()"), SEGMENT_TYPES)


def test_analytics_next_batching_posts_to_b(open_page: Any, gateway: RunningGateway, page_origin: str) -> None:
    seen = open_page(page_origin, "segment")
    batching = {"strategy": "batching", "config": {"size": 6, "timeout": 300}}
    result = run(seen, SEGMENT, gateway, integrations={"Segment.io": {"deliveryStrategy": batching}})
    assert result.get("failed") == [] and result["errors"] == [], result
    check_arrival(gateway, seen, result["anonymousId"], SEGMENT_TYPES)
    posts = [c for c in gateway_calls(seen, gateway) if c.startswith("POST")]
    assert posts and set(posts) == {"POST /v1/b"}


@pytest.mark.parametrize(("mode", "options", "posts"), [
    ("default", {}, {f"POST /v1/{t}" for t in RUDDER_TYPES}),
    ("batching", {"queueOptions": {"batch": {"enabled": True, "maxItems": 5, "flushInterval": 300}}},
     {"POST /v1/batch"}),
    ("beacon", {"useBeacon": True, "beaconQueueOptions": {"maxItems": 5, "flushQueueInterval": 300}},
     {"POST /beacon/v1/batch"}),
])
def test_rudderstack_v3_sends_each_call_once(open_page: Any, gateway: RunningGateway, page_origin: str,
                                             mode: str, options: dict[str, Any], posts: set[str]) -> None:
    seen = open_page(page_origin, "rudderstack")
    result = run(seen, RUDDERSTACK, gateway, **options)
    assert "loadError" not in result and result["errors"] == [], result
    events = check_arrival(gateway, seen, result["anonymousId"], RUDDER_TYPES)
    calls = gateway_calls(seen, gateway)
    assert "GET /sourceConfig/" in calls
    assert {c for c in calls if c.startswith("POST")} == posts
    by_type = {e["type"]: e for e in events}
    assert by_type["track"]["context"]["library"]["name"] == "RudderLabs JavaScript SDK"
    assert by_type["identify"]["traits"]["email"] == "ada@example.com"  # from context.traits
    assert by_type["alias"]["previousId"] == "anon-web" and by_type["alias"]["userId"] == "web-user"


def test_a_wrong_key_is_an_error_the_sdks_see(open_page: Any, gateway: RunningGateway, page_origin: str) -> None:
    seen = open_page(page_origin, "segment")
    assert "invalid_key" in run(seen, SEGMENT, gateway, key="wk_not_a_key")["loadError"]  # our body, read
    # With settings given inline the SDK posts: the 401 is readable, so it is final, not retried.
    settings = gateway.get(f"/v1/projects/{KEY}/settings").json()
    settings["integrations"]["Segment.io"]["apiKey"] = "wk_not_a_key"
    result = seen.page.evaluate("""async ({settings}) => {
        const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
            {writeKey: 'wk_not_a_key', cdnSettings: settings});
        const ctx = await analytics.track('Refused');
        return ctx.failedDelivery() ? String(ctx.failedDelivery().reason) : null;
    }""", {"settings": settings})
    assert result == "NonRetryableError: Non-retryable error: 401"

    rudder = open_page(page_origin, "rudderstack")
    statuses: list[int] = []
    rudder.page.on("response", lambda r: statuses.append(r.status) if "/sourceConfig/" in r.url else None)
    # It never calls onLoaded; 3 s is ample for a load that succeeds in well under one.
    assert run(rudder, RUDDERSTACK, gateway, key="wk_not_a_key", wait_ms=3000) == {"loadError": "not loaded"}
    assert statuses == [401]


def test_a_source_with_allowed_origins_takes_its_own_and_refuses_another(
        open_page: Any, gateway: RunningGateway, page_origin: str, other_origin: str) -> None:
    own = open_page(page_origin, "segment")
    result = run(own, SEGMENT, gateway, key=LOCKED_KEY)
    assert result.get("failed") == [], result
    arrived(gateway, own, 6, result["anonymousId"])

    other = open_page(other_origin, "segment")
    assert "origin_not_allowed" in run(other, SEGMENT, gateway, key=LOCKED_KEY)["loadError"]
    answer = other.page.evaluate("""async ({gateway, key}) => {
        const response = await fetch(gateway + '/v1/t', {method: 'POST', headers: {
            'Content-Type': 'text/plain', 'Authorization': 'Basic ' + btoa(key + ':')},
            body: JSON.stringify({event: 'Refused', anonymousId: 'intruder'})});
        return {status: response.status, body: await response.json()};
    }""", {"gateway": gateway.url, "key": LOCKED_KEY})
    assert answer["status"] == 403 and answer["body"]["code"] == "origin_not_allowed"
    assert not [e for e in gateway.stdout_events() if e.get("anonymousId") == "intruder"]
