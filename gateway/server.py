"""Running one worker process: ingest (the app on its HTTP engine, on the supervisor's socket) or delivery."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import logging
import signal
import socket

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig

from gateway import startup
from gateway.banner import banner
from gateway.config import Config

log = logging.getLogger("gateway")


def hypercorn_config(config: Config, sock: socket.socket | None = None) -> HypercornConfig:
    hc = HypercornConfig()
    # Hypercorn takes over a socket bound already (startup.bind, by the supervisor); the fd is then its to close.
    hc.bind = [f"fd://{sock.detach()}"] if sock is not None else [f"{config.server.host}:{config.server.port}"]
    hc.keep_alive_timeout = config.server.keep_alive_seconds
    hc.graceful_timeout = config.server.graceful_timeout_seconds
    hc.accesslog = None
    hc.errorlog = startup.hypercorn_logger()
    hc.workers = 1  # one Hypercorn worker per ingest process; the supervisor runs [server] workers of them
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


async def _serve_ingest(config: Config, sock: socket.socket, announce: bool) -> None:
    from gateway.app import create_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        app = create_app(config)
    except OSError as exc:  # e.g. the SQLite file's folder cannot be made
        raise startup.StartupError(f"cannot start: {exc}") from None
    # The banner comes from the first ingest worker once its app has started: one banner, never early.
    announcement = banner(config, *startup.address(sock))
    failed = startup.announce_when_started(app, lambda: log.info("%s", announcement) if announce else None)
    settle_heap()
    try:
        if config.server.engine == "uvicorn":
            from gateway.uvicorn_server import serve_uvicorn

            await serve_uvicorn(app, config, sock, stop)
        else:
            await serve(app, hypercorn_config(config, sock), shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    except Exception as exc:
        startup.raise_start_failure(failed, exc)
        raise


def run_worker(config: Config, role: str, fd: int | None, announce: bool = False) -> None:
    """One worker, as the supervisor starts it."""
    from gateway.supervisor import die_with_parent

    die_with_parent()
    # A fatal signal (SIGBUS when a mapped SQLite -shm file shrinks, SIGSEGV in an extension) would end
    # the worker without a word: say which and where on stderr; the supervisor then restarts it.
    faulthandler.enable(all_threads=True)
    _install_uvloop()
    if role == "delivery":
        from gateway.delivery.process import serve_delivery

        asyncio.run(serve_delivery(config))
    else:
        if fd is None:
            raise startup.StartupError("an ingest worker needs the supervisor's socket (--fd)")
        asyncio.run(_serve_ingest(config, socket.socket(fileno=fd), announce))


def run(config: Config, role: str = "all", log_format: str = "text") -> int:
    from gateway.supervisor import supervise

    return supervise(config, role, log_format)
