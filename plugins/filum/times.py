"""ISO-8601 times as Filum clients write them, turned into the canonical UTC form."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from plugins.filum.schema import EVENT_SCHEMA

# The same pattern the input schema declares, so the schema and the mapping cannot disagree.
_ISO_PATTERN = re.compile(EVENT_SCHEMA["definitions"]["datetime"]["pattern"])


def to_utc_iso(text: str) -> str | None:
    """``text`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ``, or None when it is not an ISO-8601 date-time.

    Without an offset the time is taken as UTC: the SDK stamps its own times in UTC, and a
    guess at the sender's zone would be worse than a documented rule.
    """
    if not _ISO_PATTERN.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:  # matches the pattern but is no real date, e.g. month 13
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
