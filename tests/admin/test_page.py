"""The /admin page in a real headless browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import setup_machine
from tests.admin.support import ADMIN_KEY, CONFIG
from tests.conftest import GatewayFactory
from tests.support.receiver import Receiver

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which("chromium") is None:
        setup_machine.main()  # apt-get install chromium, as `make test` does before pytest
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: run tests/setup_machine.py as root"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def webhook_config(target: str) -> str:
    return CONFIG + f"""
[[sinks]]
name = "partner"
type = "webhook"
target = "{target}"
batch_max_events = 1
"""


def test_the_page_takes_a_source_from_creation_to_its_first_event(
        gateway_factory: GatewayFactory, browser: Any, receiver: Receiver, tmp_path: Path) -> None:
    gw = gateway_factory(webhook_config(receiver.url))
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(15_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{gw.url}/admin")
    page.fill("#admin-key", "not-the-key")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:has-text('wrong admin key')")

    page.fill("#admin-key", ADMIN_KEY)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#sources-body tr[data-source=probe]")
    assert "no activity" in page.inner_text("#sources-body tr[data-source=probe]")
    page.wait_for_selector("#webhooks-body table td:has-text('partner')")

    page.fill("#create-name", "checkout")
    page.select_option("#create-dialect", "probe")
    page.click("#create-form button[type=submit]")
    page.wait_for_selector("#key-view:not([hidden])")
    key = page.inner_text("#key-fields code.secret")
    assert len(key) >= 24
    page.screenshot(path=str(tmp_path / "admin-created.png"), full_page=True)
    page.click("#key-done")
    row = page.wait_for_selector("#sources-body tr[data-source=checkout]")
    assert key not in row.inner_text()
    assert f"…{key[-4:]}" in row.inner_text()

    page.click("#sources-body tr[data-source=checkout] a")
    page.wait_for_selector("#source-title:has-text('checkout')")
    page.click("#check-connection")
    page.wait_for_selector("#source-message:has-text('not connected')")
    assert page.inner_text("#source-status") == "no activity"

    with httpx.Client(base_url=gw.url) as client:
        sent = client.post("/probe/track", auth=(key, ""), json={
            "event": "order_placed", "userId": "john.snow@example.com", "properties": {"total": 42.5}})
        assert sent.status_code == 200, sent.text
        batch = {"batch": [{"event": "forbidden-word"}, {"event": "ok"}]}
        bad = client.post("/probe/batch", auth=(key, ""), json=batch)
        assert bad.status_code == 200, bad.text

    page.click("#check-connection")
    page.wait_for_selector("#source-status:has-text('connected')")
    page.click("#refresh-events")
    first = page.wait_for_selector("#events-list li:first-child details")
    assert "ok" in first.inner_text()  # newest first
    page.click("#events-list li:nth-child(2) summary")
    attributes = page.wait_for_selector("#events-list li:nth-child(2) details[open] table.attributes")
    text = attributes.inner_text()
    assert "order_placed" in text
    assert "properties.total" in text and "42.5" in text
    assert "john.snow@example.com" in text
    page.wait_for_selector("#rejections-list li:has-text('event may not be forbidden-word')")

    shot = tmp_path / "admin-source.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    receiver.wait_for(lambda r: len(r.events()) >= 2)
    page.click("a.secondary:has-text('Back to sources')")
    page.wait_for_selector("#sources-body tr[data-source=checkout] .badge:has-text('connected')")
    page.wait_for_selector("#webhooks-body .badge:has-text('delivered')")
    page.screenshot(path=str(tmp_path / "admin-sources.png"), full_page=True)
    assert requested and all(url.startswith(gw.url) or url.startswith("data:") for url in requested), requested
    page.close()
