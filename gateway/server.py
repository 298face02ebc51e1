"""Serving the app on Hypercorn, in one process or several (``[server] workers``)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig

from gateway import startup
from gateway.banner import banner
from gateway.config import Config

log = logging.getLogger("gateway")


def hypercorn_config(config: Config, sock: socket.socket | None = None) -> HypercornConfig:
    hc = HypercornConfig()
    # Hypercorn takes over a socket bound already (startup.bind); the fd is then its to close.
    hc.bind = [f"fd://{sock.detach()}"] if sock is not None else [f"{config.server.host}:{config.server.port}"]
    hc.keep_alive_timeout = config.server.keep_alive_seconds
    hc.graceful_timeout = config.server.graceful_timeout_seconds
    hc.accesslog = None
    hc.errorlog = startup.hypercorn_logger()
    hc.workers = config.server.workers
    # Hypercorn's own read timeout cuts idle connections that never send a full request head.
    hc.read_timeout = int(max(1, config.server.body_timeout_seconds))
    return hc


def settle_heap() -> None:
    """Tune the cyclic garbage collector for serving, once the app is built.

    Start-up leaves a large heap (SQLAlchemy, compiled schemas, plugins) that never becomes garbage,
    yet every full collection would walk it again: tens of milliseconds each, a noticeable share of a
    request's cost. Freezing it takes it out of collections. Requests make many short-lived containers;
    a higher first-generation threshold collects them in fewer, cheaper passes.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _serve_one(config: Config, sock: socket.socket, announcement: str) -> None:
    from gateway.app import create_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        app = create_app(config)
    except OSError as exc:  # e.g. the SQLite file's folder cannot be made
        raise startup.StartupError(f"cannot start: {exc}") from None
    failed = startup.announce_when_started(app, lambda: log.info("%s", announcement))
    settle_heap()
    try:
        await serve(app, hypercorn_config(config, sock), shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    except Exception as exc:
        startup.raise_start_failure(failed, exc)
        raise


def run(config: Config) -> None:
    """Bind, then serve; a problem the self-hoster can fix raises ``StartupError`` (one line)."""
    workers = config.server.workers
    sock = startup.bind(config.server.host, config.server.port, reuse_port=workers > 1)
    announcement = banner(config, *startup.address(sock))
    if workers > 1:
        from hypercorn.run import run as hypercorn_run

        hc = hypercorn_config(config, sock)
        hc.application_path = "gateway.asgi:app"
        hc.worker_class = "uvloop"
        os.environ["GATEWAY_CONFIG"] = str(config.path)
        log.info("%s", announcement)
        sys.exit(hypercorn_run(hc))
    _install_uvloop()
    asyncio.run(_serve_one(config, sock, announcement))
