"""ISO-8601 times as Filum clients write them, turned into the canonical UTC form."""

from __future__ import annotations

import re

from gateway import InvalidEvent, utc_iso

from .schema import EVENT_SCHEMA

# The same pattern the input schema declares, so the schema and the mapping cannot disagree.
_ISO_PATTERN = re.compile(EVENT_SCHEMA["definitions"]["datetime"]["pattern"])
EXAMPLE = "2024-07-15T07:58:13Z"


def to_utc_iso(text: str, field: str, what: str | None = None) -> str:
    """``text`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ``; InvalidEvent naming ``field`` when it is no such time.

    Without an offset the time is taken as UTC: the SDK stamps its own times in UTC, and a
    guess at the sender's zone would be worse than a documented rule. ``what`` names the value in
    the message when ``field`` is a path a reader would not recognise (a param's key).
    """
    if not _ISO_PATTERN.fullmatch(text):
        raise InvalidEvent(f"{what or field} must be an ISO-8601 date-time such as {EXAMPLE}, "
                           f"not {text[:40]!r}", field=field)
    try:
        return utc_iso(text, field)
    except InvalidEvent as error:
        if what is not None:
            error.message = error.message.replace(field, what, 1)
        raise
