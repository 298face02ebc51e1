"""The app for ASGI servers that import it (Hypercorn with several workers): ``GATEWAY_CONFIG`` names the config."""

from __future__ import annotations

import os

from gateway.app import create_app
from gateway.config import load_config
from gateway.server import settle_heap

app = create_app(load_config(os.environ.get("GATEWAY_CONFIG", "config.toml")))
settle_heap()
