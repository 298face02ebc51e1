"""Fixtures of the browser tests: the npm SDKs, two page origins, Debian's chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import setup_machine
from tests.support.npm_sdks import npm_sdks

from .pages import serve, write_site

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_site(tmp_path_factory.mktemp("site"), npm_sdks())


@pytest.fixture(scope="session")
def page_origin(site: Path) -> Iterator[str]:
    """The origin the pages are served from: another port than the gateway's."""
    with serve(site) as origin:
        yield origin


@pytest.fixture(scope="session")
def other_origin(site: Path) -> Iterator[str]:
    """The same pages on a second origin, for sources that allow only the first."""
    with serve(site) as origin:
        yield origin


# Module scope, not session: while Playwright's sync API runs, the main thread has an event loop,
# and later tests' asyncio.run() would refuse to start.
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
