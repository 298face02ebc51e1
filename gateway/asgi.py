"""The app for ASGI servers that import it (Hypercorn with several workers): ``GATEWAY_CONFIG`` names the config.

``gateway serve`` is the way to run it: with ``[server] engine = "uvicorn"`` it adds what uvicorn's own
command does not have (a request head's deadline and size cap, refusals in the error shape, no trust in
``X-Forwarded-For``: ``gateway.uvicorn_server``). A server started on this module brings only its own.
"""

from __future__ import annotations

import os

from gateway.app import create_app
from gateway.config import load_config
from gateway.server import settle_heap

app = create_app(load_config(os.environ.get("GATEWAY_CONFIG", "config.toml")))
settle_heap()
