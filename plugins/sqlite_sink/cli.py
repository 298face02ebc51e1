"""``gateway events``: the newest events a sqlite sink stored, as a table or as JSON lines."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from gateway import EVENT_TYPES, ConfigError, SinkConfig, add_config_argument, load_config

if TYPE_CHECKING:
    from .query import EventQuery

SINK_TYPE = "sqlite"
COLUMNS = ("RECEIVED AT", "TYPE", "EVENT", "USER", "SOURCE", "MESSAGE ID")
MAX_WIDTH = 36


class CommandError(Exception):
    """Said on stderr with exit code ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_command(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "events",
        help="show the newest events stored by a sqlite sink",
        description="Show the newest events a sqlite sink stored, newest first.",
    )
    add_config_argument(parser)
    parser.add_argument("--sink", help="which sqlite sink, when the config has several")
    parser.add_argument("--source", help="only events from this source (its name)")
    parser.add_argument("--type", choices=EVENT_TYPES, help="only events of this type")
    parser.add_argument("--event", help="only track events with this name")
    parser.add_argument("--user", help="only events with this user id or anonymous id")
    parser.add_argument("--limit", type=_positive, default=20, help="at most this many (default: 20)")
    parser.add_argument("--json", action="store_true", help="one canonical event per line, as JSON")
    parser.set_defaults(func=run)


def pick_sink(sinks: Sequence[SinkConfig], wanted: str | None, config_path: Path) -> SinkConfig:
    candidates = [s for s in sinks if s.type == SINK_TYPE]
    names = ", ".join(s.name for s in candidates)
    if not candidates:
        raise CommandError(f"{config_path} has no sink of type {SINK_TYPE!r}", status=2)
    if wanted is not None:
        for sink in candidates:
            if sink.name == wanted:
                return sink
        raise CommandError(f"{config_path} has no {SINK_TYPE} sink named {wanted!r}; it has: {names}", 2)
    if len(candidates) > 1:
        raise CommandError(f"{config_path} has several {SINK_TYPE} sinks ({names}): pick one with --sink", 2)
    return candidates[0]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Control characters in an event name must not break the table's lines.
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 1] + "…"


def table_row(event: dict[str, Any]) -> tuple[str, ...]:
    received = str(event.get("receivedAt", ""))[:19].replace("T", " ")
    what = event.get("event") or event.get("name") or event.get("groupId") or event.get("previousId")
    source = event.get("source")
    return tuple(
        _cell(v)
        for v in (
            received,
            event.get("type"),
            what,
            event.get("userId") or event.get("anonymousId"),
            source.get("name") if isinstance(source, dict) else None,
            event.get("messageId"),
        )
    )


def write_table(events: list[dict[str, Any]], out: TextIO) -> None:
    if not events:
        out.write("No events.\n")
        return
    rows = [COLUMNS, *(table_row(e) for e in events)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")


def write_json_lines(events: list[dict[str, Any]], out: TextIO) -> None:
    import orjson

    for event in events:
        out.write(orjson.dumps(event).decode() + "\n")


async def fetch(sink: SinkConfig, config_dir: Path, query: EventQuery) -> list[dict[str, Any]]:
    from gateway import Database

    from .query import newest_events
    from .schema import SchemaError, readable_version

    database = Database(sink.settings["url"], base_dir=config_dir)
    where = f"sink {sink.name!r}: {database.path or 'its database'}"
    try:
        # Looking must not create: a missing file means the sink never wrote there.
        if database.path is not None and not database.path.exists():
            raise CommandError(f"{where} does not exist yet: start the gateway with this sink first")
        try:
            await readable_version(database, where)
        except SchemaError as exc:
            raise CommandError(str(exc)) from None
        return await newest_events(database, query)
    finally:
        await database.dispose()


def run(args: argparse.Namespace) -> int:
    import asyncio

    try:
        config = load_config(args.config)
        sink = pick_sink(config.sinks, args.sink, config.path)
        from .query import EventQuery

        query = EventQuery(source=args.source, type=args.type, event=args.event, user=args.user,
                           limit=args.limit)
        events = asyncio.run(fetch(sink, config.config_dir, query))
        if not events and args.source is not None and args.source not in {s.name for s in config.sources}:
            # not in the config and nothing stored under that name: a typo, not an empty source
            known = ", ".join(sorted(s.name for s in config.sources)) or "none"
            raise CommandError(f"unknown source {args.source!r}: the config's sources are {known}, and the sink "
                               "holds no events from a source of that name", status=2)
    except ConfigError as exc:
        print(f"gateway events: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"gateway events: {exc}", file=sys.stderr)
        return exc.status
    try:
        (write_json_lines if args.json else write_table)(events, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # `gateway events | head`: the reader had enough. Point stdout at /dev/null so the
        # interpreter's own flush at exit does not fail with a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
