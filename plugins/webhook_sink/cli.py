"""``gateway webhooks ...``: replay dead batches and list batches, from a shell.

Both work on the batch table directly, so they run while the gateway runs: its sender finds
replayed batches on its next look at the table (within a second).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gateway import ConfigError, GatewayError, add_config_argument, load_config

from .settings import STATES

if TYPE_CHECKING:
    from gateway import Database


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    webhooks = subparsers.add_parser("webhooks", help="replay and inspect webhook batches")
    commands = webhooks.add_subparsers(dest="webhooks_command", required=True)

    replay = commands.add_parser("replay", help="send dead batches again, with a fresh retry window")
    add_config_argument(replay)
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--batch", help="one batch id")
    which.add_argument("--webhook", help="every dead batch of this webhook (its id)")
    replay.add_argument("--since", help="with --webhook: only batches created at or after this ISO-8601 time")
    replay.set_defaults(func=lambda args: _run(args, _replay))

    batches = commands.add_parser("batches", help="list a webhook's recent batches as JSON lines")
    add_config_argument(batches)
    batches.add_argument("--webhook", required=True, help="the webhook's id")
    batches.add_argument("--state", choices=STATES)
    batches.add_argument("--limit", type=int, default=100)
    batches.set_defaults(func=lambda args: _run(args, _batches))


def _run(args: argparse.Namespace, command: Callable[[argparse.Namespace, Database], Awaitable[int]]) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    import asyncio

    from gateway import Database, state_url

    from . import store

    async def main() -> int:
        log_url = Database(config.storage_url, config.config_dir).url  # resolved against the config's folder
        database = Database(state_url(log_url), config.config_dir, synchronous=config.storage.synchronous)
        try:
            await store.ensure_tables(database)
            return await command(args, database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except GatewayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


async def _replay(args: argparse.Namespace, database: Database) -> int:
    from . import store
    from .views import parse_time

    if args.since is not None and args.webhook is None:
        print("error: --since goes with --webhook", file=sys.stderr)
        return 2
    engine = database.engine
    if args.batch is not None:
        row = await store.get(engine, args.batch)
        if row is None:
            print(f"error: no batch {args.batch}", file=sys.stderr)
            return 1
        if row["state"] == store.DELIVERED:
            print(f"error: batch {args.batch} was delivered already", file=sys.stderr)
            return 1
    since = parse_time(args.since, "--since") if args.since is not None else None
    ids = await store.replay(engine, batch_id=args.batch, webhook=args.webhook, since=since)
    for batch_id in ids:
        print(batch_id)
    print(f"replayed {len(ids)} batch(es)", file=sys.stderr)
    return 0


async def _batches(args: argparse.Namespace, database: Database) -> int:
    import orjson

    from . import store
    from .views import batch_json

    rows = await store.recent(database.engine, args.webhook, state=args.state, limit=args.limit)
    for row in rows:
        sys.stdout.write(orjson.dumps(batch_json(row)).decode() + "\n")
    return 0
