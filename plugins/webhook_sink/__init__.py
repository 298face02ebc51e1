"""Sink plugin ``webhook``: batches of canonical events POSTed to a URL, stored before the first
attempt, retried with backoff, dead-lettered (never deleted) after the retry window, replayable;
plus the webhooks management API and ``gateway webhooks`` commands. See README.md."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gateway import PluginRoute, SinkContext, SinkType, hookimpl

from . import cli
from .settings import (
    BATCH_DEFAULTS,
    CONFIG_SCHEMA,
    RETRY_FOR_SECONDS,
    RETRY_INITIAL_SECONDS,
    SECRET_FIELDS,
    SINK_TYPE,
)

if TYPE_CHECKING:
    from gateway import Database

    from .sink import WebhookSink

BASE = "/api/v1/webhooks"


def _factory(settings: Mapping[str, Any], ctx: SinkContext) -> WebhookSink:
    # imported here: loading the plugin (gateway --help, check) must not pay for the sender and HTTP client
    from .sink import WebhookSink

    return WebhookSink(settings, ctx)


def check_settings(settings: Mapping[str, Any]) -> None:
    """What every attempt will need, checked once (ValueError naming the key otherwise): the target
    parses, and the token goes into a header, which carries visible ASCII only."""
    from .targets import parse_target  # with httpx: only for a webhook to check

    parse_target(settings["target"])
    token = settings.get("auth_token")
    if isinstance(token, str) and not all(" " <= ch <= "~" for ch in token):
        # the value itself stays out of the message: it is a secret
        raise ValueError("auth_token: a header value may hold visible ASCII characters only "
                         "(no accents, emoji, tabs or line breaks)")


@hookimpl
def register_sinks(register: Callable[[SinkType], None]) -> None:
    register(SinkType(
        name=SINK_TYPE,
        factory=_factory,
        config_schema=CONFIG_SCHEMA,
        defaults={**BATCH_DEFAULTS, "retry_initial_seconds": RETRY_INITIAL_SECONDS,
                  "retry_for_seconds": RETRY_FOR_SECONDS},
        secret_fields=SECRET_FIELDS,
        description="POSTs batches of events to a URL; retries, dead letters and replays",
        check=check_settings,
    ))


@hookimpl
def register_routes(register: Callable[[PluginRoute], None]) -> None:
    from . import api, api_batches

    for path in (BASE, BASE + "/"):  # Momentum's examples POST to the trailing-slash form
        register(PluginRoute(path, api.list_webhooks, methods=("GET",), summary="list webhooks"))
        register(PluginRoute(path, api.create_webhook, methods=("POST",), summary="create a webhook"))
    one = BASE + "/{id}"
    register(PluginRoute(one, api.show_webhook, methods=("GET",), name="webhook", summary="show a webhook"))
    register(PluginRoute(one, api.update_webhook, methods=("PUT",), summary="change a webhook"))
    register(PluginRoute(one, api.delete_webhook, methods=("DELETE",), summary="delete a webhook"))
    register(PluginRoute(one + "/validate", api_batches.validate_webhook, methods=("POST",),
                         summary="send a test POST now"))
    register(PluginRoute(one + "/batch-status", api_batches.batch_status, methods=("GET",),
                         summary="recent batches and their delivery state"))
    register(PluginRoute(one + "/replay", api_batches.replay, methods=("POST",),
                         summary="send dead batches again"))


@hookimpl
def register_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    cli.add_commands(subparsers)


@hookimpl
def upgrade_storage(log_database: Database, state_database: Database) -> Any:
    from .upgrade import upgrade_tables

    return upgrade_tables(log_database, state_database)
