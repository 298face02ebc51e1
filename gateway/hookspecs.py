"""The hook specifications: the whole contract between the core and its plugins.

Every hook here has a section in ``docs/plugins.md`` and a test in ``tests/test_hookspecs.py``.
Implementations may accept any subset of a hook's arguments, so specs can grow new ones.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from gateway.canonical import CanonicalEvent
    from gateway.dialects import Dialect
    from gateway.routes import PluginRoute
    from gateway.sinks import SinkType
    from gateway.sources import Source
    from gateway.storage.database import Database

hookspec = pluggy.HookspecMarker("gateway")
hookimpl = pluggy.HookimplMarker("gateway")


@hookspec
def register_dialects(register: Callable[[Dialect], None]) -> None:
    """Register vendor dialects: call ``register(Dialect(...))`` once for each.

    A dialect owns HTTP routes, names the auth styles it accepts, ships the JSON Schema of one
    event as its clients send it, and maps such an event to canonical events.
    """


@hookspec
def register_sinks(register: Callable[[SinkType], None]) -> None:
    """Register sink types: call ``register(SinkType(...))`` once for each.

    A ``[[sinks]]`` table whose ``type`` is the sink type's name is validated against its
    ``config_schema`` and handed to its ``factory`` at start-up.
    """


@hookspec
def register_routes(register: Callable[[PluginRoute], None]) -> None:
    """Register extra HTTP routes, such as a plugin's own management API.

    Routes registered with ``admin=True`` are only reached with the admin key; the core checks it.
    """


@hookspec
def register_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add sub-commands to the ``gateway`` command line.

    Each parser should ``set_defaults(func=...)`` to a callable taking the parsed arguments and
    returning an exit code.
    """


@hookspec
def transform_event(event: CanonicalEvent, source: Source) -> CanonicalEvent | None:
    """Enrich, rewrite or drop an event after the core has stamped it, before it is committed.

    Implementations run one after another, each receiving what the previous one returned.
    Return the event (the same dict, changed or not, or a new one) to keep it, ``None`` to drop it.
    """


@hookspec
def upgrade_storage(log_database: Database, state_database: Database) -> Awaitable[None] | None:
    """Bring this plugin's own tables from an earlier release's layout to the current one.

    Return a coroutine; every process awaits it at start-up, before any sink starts, after the core
    upgraded its own tables, one process at a time. ``log_database`` holds the durable log,
    ``state_database`` the delivery state (``SinkContext.database``; on PostgreSQL the same database).
    It must be idempotent: it runs at every start, and finds nothing to do once done.
    """
