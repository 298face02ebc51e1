"""Running one worker process: ingest (the app on Hypercorn, on the supervisor's socket) or delivery."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig

from gateway.config import Config

log = logging.getLogger("gateway")


def hypercorn_config(config: Config, fd: int | None = None) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [f"fd://{fd}"] if fd is not None else [f"{config.server.host}:{config.server.port}"]
    hc.keep_alive_timeout = config.server.keep_alive_seconds
    hc.graceful_timeout = config.server.graceful_timeout_seconds
    hc.accesslog = None
    hc.errorlog = "-"
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


async def _serve_ingest(config: Config, fd: int | None) -> None:
    from gateway.app import create_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = create_app(config)
    settle_heap()
    await serve(app, hypercorn_config(config, fd), shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def run_worker(config: Config, role: str, fd: int | None) -> None:
    """One worker, as the supervisor starts it."""
    from gateway.supervisor import die_with_parent

    die_with_parent()
    _install_uvloop()
    if role == "delivery":
        from gateway.delivery.process import serve_delivery

        asyncio.run(serve_delivery(config))
    else:
        asyncio.run(_serve_ingest(config, fd))


def run(config: Config, role: str = "all") -> int:
    from gateway.supervisor import supervise

    return supervise(config, role)
