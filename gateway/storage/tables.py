"""The core's tables in the durable log's database (SQLModel, portable SQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary
from sqlmodel import Field, SQLModel

# Plugins keep their tables in their own MetaData; the core's live here only.
core_metadata = SQLModel.metadata

# Counters that grow with every event: 64-bit everywhere. SQLite's INTEGER already is (and only
# "INTEGER PRIMARY KEY" is the rowid AUTOINCREMENT needs); PostgreSQL's INTEGER would stop at 2**31.
BIG = BigInteger().with_variant(Integer(), "sqlite")


class LogEntry(SQLModel, table=True):
    """One committed canonical event. ``seq`` orders the log; sinks keep a cursor into it.

    AUTOINCREMENT (on SQLite) keeps pruned sequence numbers from ever being reused, which would
    otherwise hide new events behind an old cursor.
    """

    __tablename__ = "event_log"
    __table_args__: Any = (Index("ix_event_log_source_seq", "source", "seq"), {"sqlite_autoincrement": True})
    seq: int | None = Field(default=None, primary_key=True, sa_type=BIG)
    source: str = Field(max_length=64)
    received_at: float
    event: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class SinkCursor(SQLModel, table=True):
    __tablename__ = "sink_cursors"
    sink: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_type=BIG)
    updated_at: float


class Rejection(SQLModel, table=True):
    """An event a request carried that was not committed, with why, and what the client sent."""

    __tablename__ = "rejections"
    __table_args__: Any = (Index("ix_rejections_source_id", "source", "id"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG)
    source: str = Field(max_length=64)
    received_at: float
    item_index: int | None = None
    code: str
    reason: str
    field: str | None = None
    payload: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class SourceStats(SQLModel, table=True):
    __tablename__ = "source_stats"
    source: str = Field(primary_key=True, max_length=64)
    events_total: int = Field(default=0, sa_type=BIG)
    rejected_total: int = Field(default=0, sa_type=BIG)
    last_event_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None


class DeadLetter(SQLModel, table=True):
    """A batch a sink never took within its retry window; kept so it can be replayed."""

    __tablename__ = "dead_letters"
    id: int | None = Field(default=None, primary_key=True)
    sink: str = Field(index=True, max_length=64)
    first_seq: int = Field(sa_type=BIG)
    last_seq: int = Field(sa_type=BIG)
    events: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    error: str
    created_at: float


class RuntimeSink(SQLModel, table=True):
    """A sink created through an API at run time; re-created at every start."""

    __tablename__ = "runtime_sinks"
    name: str = Field(primary_key=True, max_length=64)
    type: str
    settings: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: float


log_table = LogEntry.__table__  # type: ignore[attr-defined]
cursor_table = SinkCursor.__table__  # type: ignore[attr-defined]
rejection_table = Rejection.__table__  # type: ignore[attr-defined]
stats_table = SourceStats.__table__  # type: ignore[attr-defined]
dead_letter_table = DeadLetter.__table__  # type: ignore[attr-defined]
runtime_sink_table = RuntimeSink.__table__  # type: ignore[attr-defined]
