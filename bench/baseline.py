"""Row 1's yardstick: a bare Starlette app that reads a JSON body, parses it and answers 200.

It is served exactly as the gateway is: on the config's ``[server] engine`` (row 1: Hypercorn, row 1u:
uvicorn), its settings from the same config file through ``gateway.server`` or
``gateway.uvicorn_server``, on the same event loop, with the same garbage-collector tuning. Usage:
``python bench/baseline.py CONFIG PORT``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from pathlib import Path

import orjson
from hypercorn.asyncio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import startup
from gateway.config import load_config
from gateway.server import _install_uvloop, hypercorn_config, settle_heap
from gateway.uvicorn_server import serve_uvicorn


async def accept(request: Request) -> Response:
    orjson.loads(await request.body())
    return Response(b'{"success":true,"accepted":1}', media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", accept, methods=["POST"])])


async def main(config_path: Path, port: int) -> None:
    config = load_config(config_path)
    config = dataclasses.replace(config, server=dataclasses.replace(config.server, port=port))
    settle_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if config.server.engine == "uvicorn":
        await serve_uvicorn(app, config, startup.bind(config.server.host, port), stop)
    else:
        await serve(app, hypercorn_config(config), shutdown_trigger=stop.wait)  # type: ignore[arg-type]


if __name__ == "__main__":
    _install_uvloop()
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
