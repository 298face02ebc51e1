"""The ``sqlite`` sink: canonical events in a typed ``events`` table (SQLite or PostgreSQL), and
``gateway events`` to look at them. See README.md next to this file."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gateway import SinkContext, SinkType, hookimpl

from .cli import add_command
from .settings import CONFIG_SCHEMA

if TYPE_CHECKING:
    from .sink import SqliteSink


def _factory(settings: Mapping[str, Any], context: SinkContext) -> SqliteSink:
    # imported here: loading the plugin (gateway --help, check) must not pay for SQLAlchemy
    from .sink import SqliteSink

    return SqliteSink.from_settings(settings, context)


@hookimpl
def register_sinks(register: Callable[[SinkType], None]) -> None:
    register(
        SinkType(
            name="sqlite",
            factory=_factory,
            config_schema=CONFIG_SCHEMA,
            # a PostgreSQL URL may carry a password
            secret_fields=("url",),
            description="Canonical events in a typed, indexed events table (SQLite or PostgreSQL).",
        )
    )


@hookimpl
def register_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    add_command(subparsers)
