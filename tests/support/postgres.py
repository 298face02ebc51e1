"""A real PostgreSQL server for the tests: GATEWAY_TEST_POSTGRES_URL's, or a throwaway cluster.

The throwaway cluster lives in a temp folder for one pytest session: initdb, a free port on
127.0.0.1 only, fsync off (nothing there outlives the session), trust auth for the ``postgres``
user. PostgreSQL refuses to run as root, so as root its programs run as the ``postgres`` user.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.server import free_port

URL_ENV = "GATEWAY_TEST_POSTGRES_URL"
START_TIMEOUT = 30  # seconds for initdb, and again for the server to accept connections
NO_SERVER = ("no PostgreSQL for the tests: install the Debian package postgresql (tests/setup_machine.py"
             f" does, as root) or set {URL_ENV}")


class Postgres:
    """A server the tests may use: ``url`` is a database for the session; ``database()`` makes fresh ones."""

    def __init__(self, url: str, control: tuple[Path, Path, str] | None = None) -> None:
        self.url = url
        self._control = control  # (bin_dir, data_dir, start options) of a throwaway cluster

    @property
    def controllable(self) -> bool:
        """Whether the tests may stop and start this server (only a throwaway cluster of their own)."""
        return self._control is not None

    def stop(self) -> None:
        """Stop as an operator would (fast: sessions cut, WAL flushed). Not immediate: the throwaway
        cluster runs with synchronous_commit off, so a crash would drop commits it already confirmed."""
        assert self._control is not None, "only a throwaway cluster may be stopped"
        bin_dir, data, _ = self._control
        _run(bin_dir, "pg_ctl", "stop", "-D", str(data), "-m", "fast", "-w")

    def start(self) -> None:
        assert self._control is not None, "only a throwaway cluster may be started"
        bin_dir, data, options = self._control
        _run(bin_dir, "pg_ctl", "start", "-D", str(data), "-l", str(data.parent / "server.log"), "-w",
             "-t", str(START_TIMEOUT), "-o", options, timeout=START_TIMEOUT + 10)

    def restart(self) -> None:
        self.stop()
        self.start()

    @contextmanager
    def database(self, prefix: str = "test") -> Iterator[str]:
        """A new, empty database on the same server (its URL), dropped afterwards."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin(self.url, f'CREATE DATABASE "{name}"')
        try:
            yield make_url(self.url).set(database=name).render_as_string(hide_password=False)
        finally:
            # FORCE: a gateway killed with -9 may leave connections the server has not noticed yet
            admin(self.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin(url: str, statement: str) -> None:
    """Run a statement outside a transaction (CREATE/DROP DATABASE cannot run inside one)."""

    async def go() -> None:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(go())


def query(url: str, statement: str) -> list[Any]:
    """Run one statement in a transaction of its own; its rows."""

    async def go() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return list(await conn.execute(text(statement)))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's program folder (Debian keeps it off PATH)."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")]
    return max(found, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0, default=None)


def _run(bin_dir: Path, program: str, *args: str, timeout: float = START_TIMEOUT) -> None:
    command = [str(bin_dir / program), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, cwd="/")
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else exc.output or ""
        raise RuntimeError(f"{program} did not finish within {timeout}s:\n{output}") from None
    if done.returncode != 0:
        raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stdout}")


@contextmanager
def throwaway_cluster(bin_dir: Path, durable: bool = False) -> Iterator[Postgres]:
    """Start a cluster in a temp folder, yield it (a new database's URL), stop it and remove the folder.

    ``durable``: keep PostgreSQL's own defaults (fsync, synchronous_commit, full_page_writes on), as the
    benchmark does so that a commit costs what it costs in production; the tests turn them off."""
    root = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "server.log"
    port = free_port()
    try:
        _run(bin_dir, "initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync",
             "--encoding=UTF8", "--locale=C.UTF-8")
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            _run(bin_dir, "pg_ctl", "start", "-D", str(data), "-l", str(log), "-w", "-t", str(START_TIMEOUT),
                 "-o", options, timeout=START_TIMEOUT + 10)
        except RuntimeError as exc:
            server_log = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start (waited up to {START_TIMEOUT}s): {exc}\n{server_log}"
                               ) from None
        base = f"postgresql+asyncpg://postgres@127.0.0.1:{port}"
        admin(f"{base}/postgres", 'CREATE DATABASE "gateway_tests"')
        yield Postgres(f"{base}/gateway_tests", (bin_dir, data, options))
    finally:
        try:
            if (data / "postmaster.pid").exists():  # also after a start that timed out
                _run(bin_dir, "pg_ctl", "stop", "-D", str(data), "-m", "fast", "-w")
        finally:
            shutil.rmtree(root, ignore_errors=True)


def postgres_session() -> Iterator[Postgres]:
    """The session fixture's body: an explicit server when configured, else a throwaway one, else skip."""
    pytest.importorskip("asyncpg", reason="asyncpg (the dev extra) is needed for the PostgreSQL tests")
    if url := os.environ.get(URL_ENV):
        yield Postgres(url)
        return
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip(NO_SERVER)
    with throwaway_cluster(bin_dir) as cluster:
        yield cluster
