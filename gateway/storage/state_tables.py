"""The delivery state's tables: cursors with their leases, delivery processes, dead letters.

On PostgreSQL they live in the log's database; on SQLite in a file of their own beside the log
(``gateway.db`` -> ``gateway-delivery.db``), written only by delivery processes, so SQLite's one
writer per file is never shared between ingestion's commits and delivery's cursor advances.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, LargeBinary, MetaData, String, Table

state_metadata = MetaData()

# One row per (sink, partition): where the sink stands in that partition, and who may move it.
# ``epoch`` is the fencing token: it grows by one at every claim, and every cursor advance (and every
# write a sink makes for the partition) is conditional on it, so a process that lost its lease can
# never write again. Times are the database's clock, never a host's.
cursor_table = Table(
    "sink_cursors", state_metadata,
    Column("sink", String(64), primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("epoch", BigInteger, nullable=False, default=0),
    Column("owner", String(160), nullable=True),
    Column("expires_at", Float, nullable=False, default=0.0),
    Column("updated_at", Float, nullable=False),
)

# Every live delivery process, renewed with its leases: who shares the work, and what it reports
# (counters, stuck sinks, housekeeping figures) for /metrics, the status API and ``gateway status``.
process_table = Table(
    "delivery_processes", state_metadata,
    Column("id", String(160), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("supervisor", Integer, nullable=False),
    Column("sinks", LargeBinary, nullable=False),  # JSON list of the sink names this process can run
    Column("started_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("report", LargeBinary, nullable=True),  # JSON: counters and states, see delivery.report
    Index("ix_delivery_processes_expires", "expires_at"),
)

dead_letter_table = Table(
    "dead_letters", state_metadata,
    Column("id", Integer, primary_key=True),
    Column("sink", String(64), nullable=False, index=True),
    Column("partition", Integer, nullable=False, default=0),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("events", LargeBinary, nullable=False),
    Column("error", String, nullable=False),
    Column("created_at", Float, nullable=False),
)
