"""Reading events back: the newest first, optionally filtered (what ``gateway events`` shows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select

from gateway import Database

from .rows import to_event
from .table import EVENTS


@dataclass(frozen=True)
class EventQuery:
    """Filters combine with AND; ``user`` matches the user id or the anonymous id."""

    source: str | None = None
    type: str | None = None
    event: str | None = None
    user: str | None = None
    limit: int = 20

    def statement(self) -> Select[Any]:
        c = EVENTS.c
        stmt = select(EVENTS)
        if self.source is not None:
            stmt = stmt.where(c.source_name == self.source)
        if self.type is not None:
            stmt = stmt.where(c.type == self.type)
        if self.event is not None:
            stmt = stmt.where(c.event == self.event)
        if self.user is not None:
            stmt = stmt.where(or_(c.user_id == self.user, c.anonymous_id == self.user))
        # Row ids follow the durable log's order, so the highest id is the latest arrival
        # (a redelivered event keeps its first row and id).
        return stmt.order_by(c.id.desc()).limit(self.limit)


async def newest_events(database: Database, query: EventQuery) -> list[dict[str, Any]]:
    """The matching canonical events, newest first."""
    async with database.engine.connect() as conn:
        result = await conn.execute(query.statement())
        return [to_event(row) for row in result.mappings()]
