"""Canonical event <-> ``events`` row, losslessly: ``to_event(to_row(e, raw)) == e``.

Every value goes to its typed column when the column can give it back exactly; anything else
(an unknown key a transform hook added, a non-string id, a time in another spelling) goes to
``extra`` as well or instead, and wins when the event is rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

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
_EMPTY_ROW: dict[str, Any] = dict.fromkeys(COLUMNS)
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


def _source_to_row(source: Mapping[str, Any], row: dict[str, Any]) -> bool:
    """Fill the source columns; False when they cannot give the object back (an empty one included)."""
    exact = bool(source)
    for part, value in source.items():
        if part in SOURCE_COLUMNS and isinstance(value, str):
            row[SOURCE_COLUMNS[part]] = value
        else:
            exact = False
    return exact


def to_row(event: Mapping[str, Any], raw: bytes) -> dict[str, Any]:
    """The row for one canonical event; ``raw`` is its JSON as committed to the durable log."""
    row: dict[str, Any] = dict(_EMPTY_ROW)
    extra: dict[str, Any] = {}
    for key, value in event.items():
        column, kind = _BY_KEY.get(key, ("", ""))
        if kind == "text" and isinstance(value, str):
            row[column] = value
            if len(value) > MAX_INDEXED_CHARS and column in _INDEXED:
                row[column] = _digest(value) if column == "message_id" else value[:MAX_INDEXED_CHARS]
                extra[key] = value
        elif kind == "object" and isinstance(value, dict):
            row[column] = value
        elif kind == "time" and (moment := parse_time(value)) is not None:
            row[column] = moment
            if format_time(moment) != value:
                extra[key] = value
        elif not (key == "source" and isinstance(value, dict) and _source_to_row(value, row)):
            extra[key] = value
    if not row["message_id"]:
        row["message_id"] = fallback_message_id(raw)
        if "messageId" in event:
            extra["messageId"] = event["messageId"]
    row["extra"] = extra or None
    return row


def to_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical event a row was made from."""
    event: dict[str, Any] = {}
    for key in _KEY_ORDER:
        column, kind = _BY_KEY[key]
        value = row[column]
        if value is not None:
            event[key] = format_time(value) if kind == "time" else value
    source = {part: row[column] for part, column in SOURCE_COLUMNS.items() if row[column] is not None}
    if source:
        event["source"] = source
    if row["extra"]:
        event.update(row["extra"])
    return event
