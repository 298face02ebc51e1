"""The admin package's own tables in the durable log's database: sources created through the API.

They live in their own MetaData so the core's tables stay the core's; a source's settings
(keys included) are one JSON document, like a ``[[sources]]`` table of config.toml.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, LargeBinary, MetaData, String, Table

admin_metadata = MetaData()

runtime_source_table = Table(
    "runtime_sources",
    admin_metadata,
    Column("name", String(64), primary_key=True),
    Column("dialect", String(64), nullable=False),
    # The validated table as JSON, generated keys included (the gateway needs them to authenticate).
    Column("settings", LargeBinary, nullable=False),
    # Keys replaced by a rotation that stay valid until their deadline: JSON [[key, expires_at], ...].
    Column("retired_keys", LargeBinary, nullable=False, default=b"[]"),
    # The log's head when the source was made: a re-used name does not show a deleted source's events.
    Column("since_seq", BigInteger, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# One row counting every change, so each process notices another's change with one cheap read.
generation_table = Table(
    "runtime_source_generation",
    admin_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)
