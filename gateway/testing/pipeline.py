"""The in-process pipeline: a request through exactly the code the server runs, without a server.

``Pipeline`` builds the real ASGI app (routes, auth, limits, decoders, schema, mapping, enrichment,
transforms, the durable group commit to a SQLite file in a temporary folder) and sends it requests
through httpx's ASGI transport. What a request came to is read back from the durable log: the
committed canonical events and the recorded rejections, so nothing here re-implements the core.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from gateway.app import create_app
from gateway.config import parse_config
from gateway.plugins import Hooks, make_plugin_manager
from gateway.storage.tables import log_table, rejection_table
from gateway.testing.canonical import assert_canonical


@dataclass
class Outcome:
    """What one request came to: the answer, the committed canonical events, the recorded rejections."""

    status: int
    answer: Any
    events: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    raw: list[Any] = field(default_factory=list)  # each event's item as stored (key fields removed)
    headers: Mapping[str, str] = field(default_factory=dict)


def load_plugins(plugins: Iterable[object] = (), plugins_dir: Path | None = None) -> Hooks:
    """The plugins of the current environment (the ``gateway`` entry points, as ``GATEWAY_PLUGINS``
    selects) plus ``plugins``: modules or objects with hook implementations, e.g. the one under test."""
    pm = make_plugin_manager(plugins_dir)
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    pm.check_pending()
    return Hooks(pm)


class Pipeline:
    """A gateway in this process. Use as ``with Pipeline(sources=[...]) as gw: gw.post(path, json=...)``.

    ``sources`` are ``[[sources]]`` tables as dicts; ``config`` is any further config (``sinks``,
    ``server``, ...) as the dict ``config.toml`` parses to. Every committed event is checked
    against the canonical schema.
    """

    def __init__(self, sources: Iterable[Mapping[str, Any]] = (), *, config: Mapping[str, Any] | None = None,
                 plugins: Iterable[object] = (), plugins_dir: Path | None = None,
                 client: str = "127.0.0.1") -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="gateway-pipeline-"))
        data: dict[str, Any] = {key: value for key, value in (config or {}).items()}
        data.setdefault("storage", {"url": "sqlite+aiosqlite:///gateway.db", "synchronous": "NORMAL"})
        data["sources"] = [*data.get("sources", []), *(dict(s) for s in sources)]
        try:
            self.config = parse_config(data, self._dir / "config.toml", load_plugins(plugins, plugins_dir))
        except BaseException:  # a refused config (ConfigError) leaves no temporary folder behind
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        self.app = create_app(self.config)
        self.gateway = self.app.state.gateway
        self._client_addr = (client, 50000)
        self._runner: asyncio.Runner | None = None
        self._http: httpx.AsyncClient | None = None
        self._seen_seq = 0
        self._seen_rejection = 0

    # -- lifecycle --------------------------------------------------------------------------------
    def __enter__(self) -> Pipeline:
        self._runner = asyncio.Runner()
        self._runner.run(self.start())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        try:
            self._runner.run(self.stop())
        finally:
            self._runner.close()
            self._runner = None

    async def start(self) -> None:
        """Start the gateway (for async tests: ``await pipeline.start()`` ... ``await pipeline.stop()``)."""
        await self.gateway.start()
        transport = httpx.ASGITransport(app=self.app, client=self._client_addr)
        self._http = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        await self.gateway.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- requests ---------------------------------------------------------------------------------
    def post(self, path: str, **kwargs: Any) -> Outcome:
        """Send one request (httpx's arguments: ``json``, ``content``, ``data``, ``headers``, ``params``,
        ``auth``) and return what it came to. ``method=`` picks another HTTP method."""
        assert self._runner is not None, "use the pipeline as a context manager (with Pipeline(...) as p)"
        return self._runner.run(self.send(path, **kwargs))

    async def send(self, path: str, method: str = "POST", **kwargs: Any) -> Outcome:
        assert self._http is not None, "the pipeline is not started"
        response = await self._http.request(method, path, **kwargs)
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
        events, raw = await self._new_events()
        for event in events:
            assert_canonical(event)
        return Outcome(status=response.status_code, answer=answer, events=events,
                       rejections=await self._new_rejections(), raw=raw, headers=dict(response.headers))

    async def _new_events(self) -> tuple[list[dict[str, Any]], list[Any]]:
        query = select(log_table.c.seq, log_table.c.event, log_table.c.raw).where(
            log_table.c.seq > self._seen_seq).order_by(log_table.c.seq)
        async with self.gateway.database.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if rows:
            self._seen_seq = rows[-1].seq
        return ([orjson.loads(r.event) for r in rows],
                [orjson.loads(r.raw) if r.raw is not None else None for r in rows])

    async def _new_rejections(self) -> list[dict[str, Any]]:
        t = rejection_table
        query = select(t).where(t.c.id > self._seen_rejection).order_by(t.c.id)
        async with self.gateway.database.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if rows:
            self._seen_rejection = rows[-1].id
        return [{"index": r.item_index, "code": r.code, "reason": r.reason, "field": r.field,
                 "payload": orjson.loads(r.payload) if r.payload else None} for r in rows]
