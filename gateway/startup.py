"""Taking the listening socket before anything else, and refusing to start in one line, not a traceback.

The gateway binds its port itself and hands the bound socket to Hypercorn (``fd://``), so nothing
claims to be listening before it is, and a port in use is one sentence that says how to change it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

BACKLOG = 1024
HOW_TO_CHANGE = "pass --port or set [server] port"


class StartupError(Exception):
    """A problem the self-hoster can fix, said in one line; ``serve`` exits non-zero with it."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on ``host:port``, inheritable by worker processes."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        sock = socket.socket(_family(host), socket.SOCK_STREAM)
    except OSError as exc:
        raise StartupError(f"cannot listen on {shown}: {exc.strerror}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except socket.gaierror:
        sock.close()
        raise StartupError(f"cannot listen on {shown}: {host!r} is not a known host name or address; "
                           "pass --host or set [server] host") from None
    except OSError as exc:
        sock.close()
        raise StartupError(_bind_problem(exc, host, port, shown)) from None
    sock.set_inheritable(True)
    return sock


def _bind_problem(exc: OSError, host: str, port: int, shown: str) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"{shown} is in use; {HOW_TO_CHANGE}"
    if exc.errno == errno.EACCES:
        return f"{shown}: port {port} needs more privileges than this user has; {HOW_TO_CHANGE} (1024 or above)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{shown}: {host} is not an address of this machine; pass --host or set [server] host"
    return f"cannot listen on {shown}: {exc.strerror or exc}"


def address(sock: socket.socket) -> tuple[str, int]:
    """Where a bound socket listens (the real port when the config asked for port 0)."""
    name = sock.getsockname()
    return str(name[0]), int(name[1])


class _NoRunningOn(logging.Filter):
    """Hypercorn announces "Running on ..." itself; the gateway's banner says it once, with more."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Running on ")


def hypercorn_logger() -> logging.Logger:
    """Hypercorn's error log, as an ordinary gateway logger (not ``hypercorn.error``, which reads like an
    error even for its informational lines), without its duplicate "Running on" line."""
    logger = logging.getLogger("gateway.server")
    if not any(isinstance(f, _NoRunningOn) for f in logger.filters):
        logger.addFilter(_NoRunningOn())
    return logger


def announce_when_started(app: Starlette, announce: Callable[[], None]) -> list[BaseException]:
    """Call ``announce`` once the app's start-up (lifespan) has succeeded. Returns a list that receives
    the exception a failed start-up raised, for ``raise_start_failure``."""
    inner = app.router.lifespan_context
    failures: list[BaseException] = []

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        try:
            manager = inner(a)
            state = await manager.__aenter__()
        except Exception as exc:
            failures.append(exc)
            raise
        announce()
        try:
            yield state
        except BaseException as exc:
            if not await manager.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            await manager.__aexit__(None, None, None)

    app.router.lifespan_context = lifespan
    return failures


def raise_start_failure(failures: list[BaseException], exc: BaseException) -> None:
    """A failed start-up becomes one line (the traceback goes to the debug log)."""
    if not failures:
        return
    cause = failures[0]
    logging.getLogger("gateway").debug("start-up failed", exc_info=cause)
    raise StartupError(f"cannot start: {cause}") from None
