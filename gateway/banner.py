"""What the gateway says about itself: the start-up banner, and the summary ``gateway check`` prints.

Both come from the config alone, so what ``check`` shows is what ``serve`` then announces. No
secret appears: keys are never listed and database URLs lose their password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.database_urls import redact

if TYPE_CHECKING:
    from gateway.config import Config, SinkConfig
    from gateway.dialects import Dialect


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def batching(settings: dict[str, object] | object) -> str:
    s = settings if isinstance(settings, dict) else dict(settings)  # type: ignore[call-overload]
    size, seconds = s.get("batch_max_events"), s.get("batch_max_seconds") or 0
    if not seconds:
        return f"batches of up to {size} events, sent as soon as events arrive"
    return f"batches of up to {size} events, or whatever arrived within {seconds}s"


def sink_filter(sink: SinkConfig) -> str:
    events = sink.settings.get("events")
    return f"events {', '.join(events)}" if events else "all events"


def compact_paths(paths: list[str]) -> str:
    """``/v1/track, /v1/page`` -> ``/v1/{track,page}``: a dialect's many routes on one readable line."""
    groups: dict[str, list[str]] = {}
    for path in paths:
        parent, _, leaf = path.rstrip("/").rpartition("/")
        groups.setdefault(parent, []).append(leaf + ("/" if path.endswith("/") and path != "/" else ""))
    parts = []
    for parent, leaves in groups.items():
        parts.append(f"{parent}/{leaves[0]}" if len(leaves) == 1 else f"{parent}/{{{','.join(leaves)}}}")
    return ", ".join(parts)


def routes_by_method(dialect: Dialect | None) -> str:
    """``POST /v1/{track,page}; GET /pixel/v1/track``: a dialect's routes, grouped by method."""
    if dialect is None:
        return "?"
    by_method: dict[str, list[str]] = {}
    for route in dialect.routes:
        for method in route.methods:
            by_method.setdefault(method, []).append(route.path.rstrip("/") or "/")
    return "; ".join(f"{method} {compact_paths(list(dict.fromkeys(paths)))}" for method, paths in by_method.items())


def summary(config: Config, host: str, port: int) -> list[str]:
    """One line per thing a self-hoster would want to see: where, admin, log, sources, sinks."""
    assert config.hooks is not None
    dialects = config.hooks.dialects()
    url = base_url(host, port)
    lines = [
        f"admin: {url}/admin" if config.admin_key else "admin: off (set [admin] api_key to use /admin)",
        f"durable log: {redact(config.storage.url)}",
        f"http engine: {config.server.engine}" + (" (httptools)" if config.server.engine == "uvicorn" else ""),
    ]
    if not config.sources:
        lines.append("sources: none yet (add a [[sources]] table, or create one on /admin)")
    for source in config.sources:
        dialect = dialects.get(source.dialect)
        lines.append(f"source {source.name!r}: dialect {source.dialect}, {routes_by_method(dialect)}")
    if not config.sinks:
        lines.append("sinks: none (events are kept in the durable log until a sink is added)")
    for sink in config.sinks:
        lines.append(f"sink {sink.name!r}: type {sink.type}, {sink_filter(sink)}, {batching(dict(sink.settings))}")
    return lines


def banner(config: Config, host: str, port: int) -> str:
    workers = config.server.workers
    head = f"gateway listening on {base_url(host, port)}" + (f" with {workers} workers" if workers > 1 else "")
    return "\n".join([head, *(f"  {line}" for line in summary(config, host, port))])
