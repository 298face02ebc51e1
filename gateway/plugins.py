"""The plugin manager: loading plugins and the typed facade the core calls hooks through.

Built-in dialects and sinks are ordinary plugins found through the ``gateway`` entry-point
group, exactly like third-party ones. ``GATEWAY_PLUGINS`` (comma-separated entry-point names)
chooses which load, an empty value loading none, so tests never pick up what happens to be
installed. ``GATEWAY_TRACE_HOOKS=1`` logs every hook call.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pluggy

from gateway import hookspecs
from gateway.canonical import CanonicalEvent
from gateway.dialect_checks import dialect_problems
from gateway.dialects import Dialect
from gateway.routes import PluginRoute
from gateway.sinks import SinkType
from gateway.sources import Source

ENTRY_POINT_GROUP = "gateway"
log = logging.getLogger("gateway.plugins")

T = TypeVar("T")


class PluginError(Exception):
    """A plugin could not be loaded or registered something invalid."""


def _selected_entry_points() -> list[importlib.metadata.EntryPoint]:
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    wanted = os.environ.get("GATEWAY_PLUGINS")
    if wanted is None:
        return eps
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    by_name = {ep.name: ep for ep in eps}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise PluginError(
            f"GATEWAY_PLUGINS names {', '.join(missing)}, not installed; "
            f"installed: {', '.join(sorted(by_name)) or 'none'}"
        )
    return [by_name[n] for n in names]


def _load_directory(pm: pluggy.PluginManager, directory: Path) -> None:
    """Load every ``*.py`` file of a ``plugins_dir`` as a plugin: handy for one-off local plugins."""
    if not directory.is_dir():
        raise PluginError(f"plugins_dir {directory} is not a directory")
    for path in sorted(directory.glob("*.py")):
        module_name = f"gateway_local_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise PluginError(f"cannot load plugin file {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        pm.register(module, name=f"local:{path.name}")


def make_plugin_manager(plugins_dir: Path | None = None) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for ep in _selected_entry_points():
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken third-party plugin must say who it is
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
    if plugins_dir is not None:
        _load_directory(pm, plugins_dir)
    # A misspelt hook implementation fails at once rather than silently never running.
    pm.check_pending()
    if os.environ.get("GATEWAY_TRACE_HOOKS"):
        pm.trace.root.setwriter(lambda msg: log.info("hook: %s", msg.rstrip()))
        pm.enable_tracing()
    return pm


class Hooks:
    """The core's typed view of the plugin manager: it never calls ``pm.hook`` anywhere else."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def _collect(self, hook: Any, kind: type[T], key: Callable[[T], str], what: str) -> dict[str, T]:
        found: dict[str, T] = {}

        def register(item: T) -> None:
            if not isinstance(item, kind):
                raise PluginError(f"register_{what}s expects a {kind.__name__}, got {type(item).__name__}")
            name = key(item)
            if name in found:
                raise PluginError(f"two plugins register a {what} named {name!r}")
            found[name] = item

        hook(register=register)
        return found

    def dialects(self) -> dict[str, Dialect]:
        found = self._collect(self.pm.hook.register_dialects, Dialect, lambda d: d.name, "dialect")
        for dialect in found.values():
            problems = dialect_problems(dialect)
            if problems:
                raise PluginError(f"dialect {dialect.name!r} is declared inconsistently: {'; '.join(problems)}")
        return found

    def sink_types(self) -> dict[str, SinkType]:
        return self._collect(self.pm.hook.register_sinks, SinkType, lambda s: s.name, "sink")

    def routes(self) -> list[PluginRoute]:
        found: list[PluginRoute] = []
        self.pm.hook.register_routes(register=found.append)
        return found

    def add_commands(self, subparsers: Any) -> None:
        self.pm.hook.register_commands(subparsers=subparsers)

    def transformer(self) -> Callable[[CanonicalEvent, Source], CanonicalEvent | None] | None:
        """A function chaining every ``transform_event`` implementation, or None when there are none.

        pluggy would call each implementation with the same event; the chain needs each to see
        the previous one's result, so the implementations are called in pluggy's order here.
        """
        impls = self.pm.hook.transform_event.get_hookimpls()
        if not impls:
            return None
        calls: list[tuple[Callable[..., Any], tuple[str, ...]]] = [
            (impl.function, impl.argnames) for impl in reversed(impls)]

        def chain(event: CanonicalEvent, source: Source) -> CanonicalEvent | None:
            current: CanonicalEvent | None = event
            for function, argnames in calls:
                kwargs: dict[str, Any] = {"event": current, "source": source}
                current = function(**{k: kwargs[k] for k in argnames})
                if not current:
                    return None
            return current

        return chain

    def storage_upgrades(self) -> list[Callable[[Any, Any], Awaitable[None]]]:
        """Each plugin's ``upgrade_storage``, as a function of (log database, state database)."""
        upgrades: list[Callable[[Any, Any], Awaitable[None]]] = []
        for impl in self.pm.hook.upgrade_storage.get_hookimpls():
            def call(log_db: Any, state_db: Any, impl: Any = impl) -> Awaitable[None]:
                kwargs = {"log_database": log_db, "state_database": state_db}
                return _awaitable(impl.function(**{k: kwargs[k] for k in impl.argnames}))
            upgrades.append(call)
        return upgrades

    def plugin_names(self) -> list[str]:
        return sorted(name for name, _ in self.pm.list_name_plugin() if name)


async def _awaitable(result: Any) -> None:
    if inspect.isawaitable(result):
        await result


def load_hooks(plugins_dir: Path | None = None) -> Hooks:
    return Hooks(make_plugin_manager(plugins_dir))


def registered(items: Iterable[Any]) -> str:
    return ", ".join(sorted(items)) or "none"
