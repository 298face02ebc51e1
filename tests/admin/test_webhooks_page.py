"""The /admin page manages webhooks and draws traffic, in Debian's chromium driven by Playwright."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx

from tests.admin.support import ADMIN, ADMIN_KEY, CONFIG
from tests.admin.test_page import browser, receiver  # noqa: F401  (fixtures)
from tests.conftest import GatewayFactory
from tests.support.receiver import Receiver
from tests.support.server import wait_until

TIME_FORMAT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")


def png_is_not_blank(path: Path) -> bool:
    """Decode the PNG's pixels (no imaging library needed) and look for more than a few distinct values."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat = 8, b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    pixels = zlib.decompress(idat)
    return len(set(pixels[: 4_000_000])) > 32


def sign_in(page: Any, url: str) -> None:
    page.goto(f"{url}/admin")
    page.fill("#admin-key", ADMIN_KEY)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#sources-body tr[data-source=probe]")


def test_traffic_chart_times_and_empty_states(gateway_factory: GatewayFactory, browser: Any,  # noqa: F811
                                              tmp_path: Path) -> None:
    gw = gateway_factory(CONFIG)
    with httpx.Client(base_url=gw.url) as client:
        for _ in range(3):
            assert client.post("/probe/track", auth=("probe-write-key", ""), json={"event": "ok"}).status_code == 200
        batch = {"batch": [{"event": "forbidden-word"}, {"event": "ok"}]}
        assert client.post("/probe/batch", auth=("probe-write-key", ""), json=batch).status_code == 200
    answer = httpx.get(f"{gw.url}/api/v1/traffic", headers=ADMIN).json()
    assert answer["minutes"] == 60 and sum(answer["sources"]["probe"]["accepted"]) == 4
    assert sum(answer["sources"]["probe"]["rejected"]) == 1
    assert httpx.get(f"{gw.url}/api/v1/traffic?window=week", headers=ADMIN).status_code == 400
    assert httpx.get(f"{gw.url}/api/v1/traffic").status_code == 401

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(15_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, gw.url)
    page.wait_for_selector("#traffic-charts .chart[data-source=probe] rect.accepted")
    page.wait_for_selector("#traffic-charts .chart[data-source=probe] rect.rejected")
    assert "4 accepted, 1 rejected" in page.inner_text("#traffic-charts .chart[data-source=probe] h3")
    page.click("#traffic-day")
    page.wait_for_selector("#traffic-day[aria-pressed=true]")
    page.wait_for_selector("#traffic-charts .chart[data-source=probe] rect.accepted")
    page.wait_for_selector("#webhooks-empty:has-text('add one with the form below')")
    last_event = page.inner_text("#sources-body tr[data-source=probe] td:nth-child(7)")
    assert TIME_FORMAT.match(last_event), last_event
    shot = tmp_path / "admin-traffic.png"
    page.screenshot(path=str(shot), full_page=True)
    assert png_is_not_blank(shot)

    page.click("#sources-body tr[data-source=probe] a")
    page.wait_for_selector("#rejections-list li")
    for text in page.locator("time").all_inner_texts():
        assert TIME_FORMAT.match(text), text
    assert all(url.startswith(gw.url) or url.startswith("data:") for url in requested), requested
    page.close()


def test_webhooks_are_created_tested_edited_replayed_and_deleted(
        gateway_factory: GatewayFactory, browser: Any, receiver: Receiver, tmp_path: Path) -> None:  # noqa: F811
    gw = gateway_factory(CONFIG)
    page = browser.new_page(viewport={"width": 1280, "height": 1200})
    page.set_default_timeout(20_000)
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, gw.url)

    # a failing test POST is shown, and nothing is created
    receiver.fail(500)
    page.fill("#webhook-name", "partner")
    page.fill("#webhook-target", receiver.url)
    page.fill("#webhook-events", "track")
    page.check("#webhook-private")
    page.click("#webhook-submit")
    error = page.wait_for_selector("#webhook-form-error:not([hidden])")
    assert "test POST" in error.inner_text() and "HTTP 500" in error.inner_text()
    assert httpx.get(f"{gw.url}/api/v1/webhooks", headers=ADMIN).json()["results"] == []

    receiver.succeed()
    page.click("#webhook-submit")
    page.wait_for_selector("#webhooks-message:has-text('partner created')")
    row = page.wait_for_selector("#webhooks-table tr[data-webhook]")
    assert "partner" in row.inner_text() and "track" in row.inner_text()

    page.click("#webhooks-table button[data-action=test]")
    page.wait_for_selector("#webhooks-message:has-text('succeeded')")

    page.click("#webhooks-table button[data-action=edit]")
    page.wait_for_selector("#webhook-form-title:has-text('Edit webhook partner')")
    page.fill("#webhook-name", "partner-renamed")
    page.fill("#webhook-events", "")
    page.click("#webhook-submit")
    page.wait_for_selector("#webhooks-table td:has-text('partner-renamed')")
    assert "all events" in page.inner_text("#webhooks-table")

    # a webhook whose batch goes dead, replayed from the page
    created = httpx.post(f"{gw.url}/api/v1/webhooks", headers=ADMIN, timeout=15, json={
        "name": "flaky", "target": receiver.url, "allow_private_targets": True, "retry_initial_seconds": 0.1,
        "retry_max_seconds": 0.2, "retry_for_seconds": 0.5, "batch_max_events": 1})
    assert created.status_code == 200, created.text
    flaky = created.json()["results"]["id"]
    receiver.fail(500)
    with httpx.Client(base_url=gw.url) as client:
        assert client.post("/probe/track", auth=("probe-write-key", ""), json={"event": "e2"}).status_code == 200
    wait_until(lambda: httpx.get(f"{gw.url}/api/v1/webhooks/{flaky}/batch-status?state=dead",
                                 headers=ADMIN).json()["results"], timeout=30)
    receiver.succeed()
    page.click("#refresh-sources")
    replay = page.wait_for_selector(f"#webhooks-table tr[data-webhook='{flaky}'] button[data-action=replay]")
    page.wait_for_selector(f"#webhooks-table tr[data-webhook='{flaky}'] td:nth-child(4) .badge:has-text('dead')")
    shot = tmp_path / "admin-webhooks.png"
    page.screenshot(path=str(shot), full_page=True)
    assert png_is_not_blank(shot)
    replay.click()
    page.wait_for_selector("#webhooks-message:has-text('1 dead batch sent again')")
    wait_until(lambda: httpx.get(f"{gw.url}/api/v1/webhooks/{flaky}/batch-status?state=delivered",
                                 headers=ADMIN).json()["results"], timeout=30)
    page.click("#refresh-sources")
    page.wait_for_selector(f"#webhooks-table tr[data-webhook='{flaky}'] td:nth-child(4) .badge:has-text('delivered')")
    # the counts and the recent batches come from two requests: the row settles once both saw the delivery
    page.wait_for_selector(f"#webhooks-table tr[data-webhook='{flaky}'] td:nth-child(3) li:has-text('delivered 1')")

    page.click(f"#webhooks-table tr[data-webhook='{flaky}'] button[data-action=delete]")
    page.wait_for_selector("#webhooks-message:has-text('flaky deleted')")
    page.wait_for_selector(f"#webhooks-table tr[data-webhook='{flaky}']", state="detached")
    page.close()
