"""``gateway serve``: start the ingest and delivery worker processes and keep them running.

The supervisor binds the listening socket once and hands it to every ingest worker, so a restarted
worker serves the same port. A worker that dies is logged and started again (with a growing pause
if it keeps dying); SIGTERM or SIGINT asks every worker to drain (ingest answers what it has taken and
commits it, delivery finishes its batches in flight and releases its leases) and waits for them.
Workers die with the supervisor (PR_SET_PDEATHSIG), so a kill -9 of ``gateway serve`` stops them all.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from gateway import startup
from gateway.config import Config

log = logging.getLogger("gateway")
ROLES = ("all", "ingest", "delivery")


@dataclass
class Child:
    role: str
    index: int
    args: list[str]
    pass_fds: tuple[int, ...] = ()
    first_args: tuple[str, ...] = ()  # added on the first start only (the banner's --announce)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    ever_restarted: bool = False
    next_start: float = 0.0
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = f"{self.role} worker {self.index}"

    def start(self) -> None:
        self.process = subprocess.Popen([*self.args, *self.first_args], pass_fds=self.pass_fds)
        self.first_args = ()
        self.started_at = time.monotonic()
        log.info("%s started (pid %d)", self.label, self.process.pid)


def supervise(config: Config, role: str, log_format: str = "text") -> int:
    """Bind (a port in use raises ``StartupError``, one line), start the workers, keep them running.

    The first ingest worker prints the banner once its app has started. A worker that exits with 2 on its
    first run met a problem the self-hoster must fix (it said so in one line): serve stops and exits 2.
    """
    base = [sys.executable, "-m", "gateway", "serve", "--config", str(config.path), "--worker",
            "--log-format", log_format]
    children: list[Child] = []
    sock = None
    if role in ("all", "ingest"):
        sock = startup.bind(config.server.host, config.server.port)
        fd = sock.fileno()
        children += [Child("ingest", i, [*base, "--role", "ingest", "--fd", str(fd)], (fd,),
                           first_args=("--announce",) if i == 0 else ())
                     for i in range(config.server.workers)]
    if role in ("all", "delivery"):
        children += [Child("delivery", i, [*base, "--role", "delivery"]) for i in range(config.delivery.workers)]
    stopping = fatal = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for child in children:
        child.start()
    while not stopping and not fatal:
        for child in children:
            process = child.process
            if process is None:
                if time.monotonic() >= child.next_start and not stopping:
                    child.start()
                continue
            code = process.poll()
            if code is None:
                continue
            if code == 2 and not child.ever_restarted:
                log.debug("%s (pid %d) could not start; stopping", child.label, process.pid)
                fatal = True
                break
            # A worker that ran a while had a fault, not a broken set-up: restart at once.
            ran = time.monotonic() - child.started_at
            child.ever_restarted = True
            child.restarts = 0 if ran > 60 else child.restarts + 1
            pause = min(30.0, 0.5 * 2 ** max(0, child.restarts - 1)) if child.restarts else 0.0
            log.error("%s (pid %d) exited with %s; restarting in %.1fs", child.label, process.pid,
                      _exit_status(code), pause)
            child.process = None
            child.next_start = time.monotonic() + pause
        time.sleep(0.2)
    if not fatal:
        log.info("gateway stopping: draining %d worker(s)", len(children))
    for child in children:
        if child.process is not None and child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + config.server.graceful_timeout_seconds + 10
    code = 0
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("%s (pid %d) did not stop in time; killing it", child.label, child.process.pid)
            child.process.kill()
            child.process.wait()
        if child.process.returncode not in (0, -signal.SIGTERM):
            code = 1
    if sock is not None:
        sock.close()
    return 2 if fatal else code


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the supervisor goes, however it goes."""
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os._exit(1)


def _exit_status(code: int) -> str:
    """``signal SIGBUS`` for a worker a signal ended, the exit code otherwise."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
