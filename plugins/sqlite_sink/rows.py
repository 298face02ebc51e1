"""Canonical event <-> ``events`` row, losslessly: ``to_event(to_row(e, raw)) == e``.

Every value goes to its typed column when the column can give it back exactly; anything else
(an unknown key a transform hook added, a non-string id, a time in another spelling) goes to
``extra`` as well or instead, and wins when the event is rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

# canonical key -> column, by the kind of value the column holds
TEXT_COLUMNS = {
    "messageId": "message_id",
    "type": "type",
    "event": "event",
    "name": "name",
    "userId": "user_id",
    "anonymousId": "anonymous_id",
    "previousId": "previous_id",
    "groupId": "group_id",
}
OBJECT_COLUMNS = {
    "properties": "properties",
    "traits": "traits",
    "context": "context",
    "integrations": "integrations",
}
TIME_COLUMNS = {"timestamp": "timestamp", "receivedAt": "received_at"}
# Kept as the client wrote them: the offset a client used can matter to whoever reads them.
RAW_TIME_COLUMNS = {"originalTimestamp": "original_timestamp", "sentAt": "sent_at"}
SOURCE_COLUMNS = {"id": "source_id", "name": "source_name", "dialect": "dialect"}

_BY_KEY = {
    **{k: (c, "text") for k, c in TEXT_COLUMNS.items()},
    **{k: (c, "text") for k, c in RAW_TIME_COLUMNS.items()},
    **{k: (c, "object") for k, c in OBJECT_COLUMNS.items()},
    **{k: (c, "time") for k, c in TIME_COLUMNS.items()},
}
# Rebuilt events list their keys in the canonical schema's order.
_KEY_ORDER = [*TEXT_COLUMNS, *OBJECT_COLUMNS, "timestamp", "originalTimestamp", "sentAt", "receivedAt"]
COLUMNS = (*(column for column, _ in _BY_KEY.values()), *SOURCE_COLUMNS.values(), "extra")
# PostgreSQL refuses an index entry over about 2.7 KB, which would fail a batch on every retry;
# 512 characters stay under it in any UTF-8. A longer value is cut (or hashed, for the unique
# message_id) in its column and kept whole in ``extra``; SQLite does the same, so both agree.
MAX_INDEXED_CHARS = 512
_INDEXED = {"message_id", "event", "user_id", "anonymous_id"}


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 string as an aware UTC datetime (no offset means UTC, as in the core), else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def format_time(moment: datetime) -> str:
    """The canonical spelling: UTC, ``Z``, milliseconds (microseconds only when there are some)."""
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def _digest(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fallback_message_id(raw: bytes) -> str:
    """The core always stamps ``messageId``; should an event lack one, a hash of its bytes keeps
    redelivery idempotent all the same."""
    return _digest(raw)


def replace_nul(event: dict[str, Any]) -> dict[str, Any]:
    """Turn U+0000 into U+FFFD in every string and key, in place.

    PostgreSQL refuses U+0000 in text and in JSONB, and one such event would fail its whole batch
    again and again. (SQLite keeps it.) A loop rather than recursion: nesting can be deep.
    """
    stack: list[Any] = [event]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                value = node[key]
                if isinstance(value, str):
                    value = value.replace("\x00", "\ufffd")
                elif isinstance(value, dict | list):
                    stack.append(value)
                if "\x00" in key:
                    del node[key]
                    key = key.replace("\x00", "\ufffd")
                node[key] = value
        else:
            for index, value in enumerate(node):
                if isinstance(value, str):
                    node[index] = value.replace("\x00", "\ufffd")
                elif isinstance(value, dict | list):
                    stack.append(value)
    return event


class Encoding(NamedTuple):
    """How a driver takes a JSON object column and a time column.

    ``time(moment, text, canonical)`` gets the parsed time, the text it came from and whether that
    text is in the spelling the core stamps (``_is_canonical_time``).
    """

    document: Callable[[dict[str, Any]], Any]
    time: Callable[[datetime, str, bool], Any]


def _aware_utc(moment: datetime, text: str, canonical: bool) -> datetime:
    return moment.astimezone(UTC)


# SQLAlchemy's types (JSONB, timestamptz) bind these Python values: the PostgreSQL path.
PYTHON = Encoding(document=lambda value: value, time=_aware_utc)


def _is_canonical_time(text: str) -> bool:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, what the core stamps: its column text is a slice of it."""
    return len(text) == 24 and text[10] == "T" and text[19] == "." and text[23] == "Z" and text.isascii()


def _sqlite_time(moment: datetime, text: str, canonical: bool) -> str:
    """SQLite's own ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (what SQLAlchemy's DateTime wrote before)."""
    if canonical:
        return f"{text[:10]} {text[11:23]}000"
    m = moment.astimezone(UTC)
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d} {m.hour:02d}:{m.minute:02d}:{m.second:02d}"
            f".{m.microsecond:06d}")


def _json_text(value: dict[str, Any]) -> str:
    # Text, not bytes: SQLite's json functions read TEXT, and a BLOB would be a different value.
    return orjson.dumps(value).decode()


# Plain sqlite3 parameters: JSON text, time text. The SQLite path.
SQLITE = Encoding(document=_json_text, time=_sqlite_time)

_POSITION = {column: i for i, column in enumerate(COLUMNS)}
_BY_KEY_POSITION = {key: (_POSITION[column], kind, column in _INDEXED) for key, (column, kind) in _BY_KEY.items()}
_SOURCE_POSITION = {part: _POSITION[column] for part, column in SOURCE_COLUMNS.items()}
_MESSAGE_ID, _SOURCE_ID, _EXTRA = _POSITION["message_id"], _POSITION["source_id"], _POSITION["extra"]
_NOTHING = (-1, "", False)


def stored_message_id(value: str) -> str:
    """The ``message_id`` column's text: the id as sent, or its hash when it is too long to index.

    An id that itself looks like a hash is hashed too, so a client cannot send the hash of another
    event's long id and take its place.
    """
    if len(value) > MAX_INDEXED_CHARS or value.startswith("sha256:"):
        return _digest(value)
    return value


def _source_to_row(source: Mapping[str, Any], row: list[Any]) -> bool:
    """Fill the source columns; False when they cannot give the object back (an empty one included)."""
    exact = bool(source)
    for part, value in source.items():
        position = _SOURCE_POSITION.get(part)
        if position is not None and isinstance(value, str) and value:
            row[position] = value
        else:
            exact = False
    return exact


def row_values(event: Mapping[str, Any], raw: bytes, encoding: Encoding = SQLITE) -> list[Any]:
    """The row for one canonical event, as values in ``COLUMNS`` order; ``raw`` is its JSON as
    committed to the durable log."""
    row: list[Any] = [None] * len(COLUMNS)
    extra: dict[str, Any] = {}
    for key, value in event.items():
        position, kind, indexed = _BY_KEY_POSITION.get(key, _NOTHING)
        if kind == "text" and isinstance(value, str):
            row[position] = value
            if position == _MESSAGE_ID:
                stored = stored_message_id(value)
                if stored is not value:
                    row[position] = stored
                    extra[key] = value
            elif indexed and len(value) > MAX_INDEXED_CHARS:
                row[position] = value[:MAX_INDEXED_CHARS]
                extra[key] = value
        elif kind == "object" and isinstance(value, dict):
            row[position] = encoding.document(value)
        elif kind == "time" and (moment := parse_time(value)) is not None:
            canonical = _is_canonical_time(value)
            row[position] = encoding.time(moment, value, canonical)
            if not canonical and format_time(moment) != value:
                extra[key] = value
        elif not (key == "source" and isinstance(value, dict) and _source_to_row(value, row)):
            extra[key] = value
    if not row[_MESSAGE_ID]:
        row[_MESSAGE_ID] = fallback_message_id(raw)
        if "messageId" in event:
            extra["messageId"] = event["messageId"]
    if row[_SOURCE_ID] is None:
        # Message ids are unique per source: the key needs a source id, and NULLs never conflict.
        # (An empty id is never a real one, and to_event leaves it out.)
        row[_SOURCE_ID] = ""
    row[_EXTRA] = (encoding.document(extra) if extra else None)
    return row


def to_row(event: Mapping[str, Any], raw: bytes) -> dict[str, Any]:
    """The row for one canonical event as a column -> Python value mapping (SQLAlchemy's binding)."""
    return dict(zip(COLUMNS, row_values(event, raw, PYTHON), strict=True))


def to_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical event a row was made from."""
    event: dict[str, Any] = {}
    for key in _KEY_ORDER:
        column, kind = _BY_KEY[key]
        value = row[column]
        if value is not None:
            event[key] = format_time(value) if kind == "time" else value
    source = {part: row[column] for part, column in SOURCE_COLUMNS.items() if row[column]}
    if source:
        event["source"] = source
    if row["extra"]:
        event.update(row["extra"])
    return event
