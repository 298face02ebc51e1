"""A web page on its own origin (another port of 127.0.0.1) that loads the browser SDKs from npm."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.server import free_port

# The npm files the pages load: analytics-next's UMD build and RudderStack's bundled one (its
# plugins inside, so nothing is fetched from RudderStack's CDN).
SDK_FILES = {
    "segment": "@segment/analytics-next/dist/umd/index.js",
    "rudderstack": "@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js",
}


def write_site(root: Path, node_modules: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    link = root / "node_modules"
    if not link.exists():
        link.symlink_to(node_modules, target_is_directory=True)
    for name, path in SDK_FILES.items():
        (root / f"{name}.html").write_text(
            f'<!doctype html><html><head><title>{name}</title>'
            f'<script src="/node_modules/{path}"></script></head><body>{name}</body></html>\n')
    return root


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on a free port of 127.0.0.1; yields the page origin."""
    port = free_port()
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
