"""The ``events`` table and its schema-version table, defined once with SQLModel.

The sink writes and reads through SQLAlchemy Core on ``EVENTS`` (no ORM objects per event);
the SQLModel classes are the single definition of the schema, for the code and for readers.
"""

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, Table, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

# Bump when the table changes, and add the step to ``schema.MIGRATIONS``.
# 2: message ids are unique per source, (source_id, message_id), no longer across all sources.
SCHEMA_VERSION = 2
UNIQUE_KEY = ("source_id", "message_id")


class JSONDocument(TypeDecorator[Any]):
    """A JSON object: JSON text on SQLite (for ``json_extract``, sqlite3, Datasette), JSONB on PostgreSQL.

    orjson writes the text on SQLite: faster than the stdlib, and non-ASCII stays readable.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return orjson.dumps(value).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str | bytes):
            return orjson.loads(value)
        return value


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime both ways: ``timestamptz`` on PostgreSQL, SQLite's own
    ``YYYY-MM-DD HH:MM:SS.ffffff`` text on SQLite (so ``timestamp > datetime('now', '-1 day')`` works).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        # SQLite drops the offset when storing, so only UTC may go in.
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Its own registry, so ``create_all`` on the sink's database creates the sink's tables only,
# never the tables of another SQLModel user in the same process (the core's durable log).
class _SinkModel(SQLModel, registry=registry()):
    pass


# BIGINT on PostgreSQL (an events table outgrows 2**31 rows); exactly INTEGER on SQLite, where
# only ``INTEGER PRIMARY KEY`` is the fast rowid alias.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class EventRow(_SinkModel, table=True):
    """One canonical event. Keys with no column of their own, or a value a column cannot hold
    exactly, are kept in ``extra``, so ``rows.to_event`` gives back the event as delivered."""

    __tablename__ = "events"
    __table_args__ = (
        # Client-sent ids are the client's own: another source sending the same id is another event.
        Index("ux_events_source_message", *UNIQUE_KEY, unique=True),
        Index("ix_events_timestamp", "timestamp"),
        Index("ix_events_user_id", "user_id", "timestamp"),
        Index("ix_events_anonymous_id", "anonymous_id", "timestamp"),
        Index("ix_events_event", "event", "timestamp"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=_ROW_ID)
    message_id: str = Field(nullable=False)
    type: str | None = None
    event: str | None = None
    name: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    group_id: str | None = None
    previous_id: str | None = None
    timestamp: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    source_name: str | None = None
    dialect: str | None = None
    properties: dict[str, Any] | None = Field(default=None, sa_type=JSONDocument)
    traits: dict[str, Any] | None = Field(default=None, sa_type=JSONDocument)
    context: dict[str, Any] | None = Field(default=None, sa_type=JSONDocument)
    integrations: dict[str, Any] | None = Field(default=None, sa_type=JSONDocument)
    original_timestamp: str | None = None
    sent_at: str | None = None
    # "" when an event has no source id (the unique key needs a value; NULLs never conflict)
    source_id: str | None = None
    extra: dict[str, Any] | None = Field(default=None, sa_type=JSONDocument)


class SchemaVersionRow(_SinkModel, table=True):
    """One row per schema version applied to this database; the highest is the current one."""

    __tablename__ = "events_schema_version"

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    applied_at: datetime = Field(sa_type=UTCDateTime)


EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
VERSIONS: Table = SchemaVersionRow.__table__  # type: ignore[attr-defined]
METADATA = _SinkModel.metadata
