"""The core's tables in the durable log's database (SQLModel, portable SQL).

The delivery state (cursors with their leases, delivery processes, dead letters) lives in
``gateway.storage.state_tables``: on SQLite in a file of its own, so ingest and delivery
processes never write one file.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, SmallInteger
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
    __table_args__: Any = (Index("ix_event_log_source_seq", "source", "seq"),
                           Index("ix_event_log_partition_seq", "partition", "seq"),
                           {"sqlite_autoincrement": True})
    seq: int | None = Field(default=None, primary_key=True, sa_type=BIG)
    # The partition this event's commit went to: a sink reads each partition in seq order.
    partition: int = Field(default=0, sa_column=Column(SmallInteger, nullable=False, server_default="0"))
    source: str = Field(max_length=64)
    received_at: float
    event: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class LogPartition(SQLModel, table=True):
    """One row per partition of the log. A commit locks its partition's row (so seq order is commit
    order within it) and records the partition's head, which delivery reads to find new events."""

    __tablename__ = "log_partitions"
    partition: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    head: int = Field(default=0, sa_type=BIG)


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


class SourceCounts(SQLModel, table=True):
    """A source's counters, one row per partition: each commit adds to the row of the partition it
    holds, so commits of one source on several hosts never wait for each other's counter row. Readers
    add the rows up (``gateway.admin.stats``)."""

    __tablename__ = "source_counts"
    source: str = Field(primary_key=True, max_length=64)
    partition: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    events_total: int = Field(default=0, sa_type=BIG)
    rejected_total: int = Field(default=0, sa_type=BIG)
    last_event_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None


class RuntimeSink(SQLModel, table=True):
    """A sink created through an API at run time; re-created at every start."""

    __tablename__ = "runtime_sinks"
    name: str = Field(primary_key=True, max_length=64)
    type: str
    settings: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: float


log_table = LogEntry.__table__  # type: ignore[attr-defined]
partition_table = LogPartition.__table__  # type: ignore[attr-defined]
rejection_table = Rejection.__table__  # type: ignore[attr-defined]
stats_table = SourceCounts.__table__  # type: ignore[attr-defined]
runtime_sink_table = RuntimeSink.__table__  # type: ignore[attr-defined]
