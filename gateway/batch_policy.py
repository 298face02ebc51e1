"""What a request with invalid events comes to: the many-event policy, as a pure function.

A single-event request with a bad event is refused. In a many-event request the source's
``batch_mode`` decides: ``partial`` (the default) commits the valid events and records the
invalid ones as rejected; ``atomic`` refuses the whole request. A request with no valid event is
refused either way. Rejections are recorded in every case, so the self-hoster sees them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from gateway.errors import GatewayError, InvalidEvent


class Outcome(NamedTuple):
    """``commit``: whether the valid events are committed; ``error``: what to answer instead of 200."""

    commit: bool
    error: InvalidEvent | None


def decide(errors: Sequence[GatewayError], answers: Sequence[Mapping[str, Any]], *, many: bool,
           items: int, valid: int, atomic: bool, path: str = "batch") -> Outcome:
    """``errors[i]`` is the failure described by ``answers[i]`` (index, code, message, field);
    ``path`` is where the body holds its events (``batch``), for the message.

    ``items`` is how many events the request held and ``valid`` how many canonical events the valid
    ones came to (a transform hook may have dropped some: zero valid events with no error is a 200).
    """
    if not errors:
        return Outcome(True, None)
    if many and valid and not atomic:
        return Outcome(True, None)
    first = errors[0]
    if not many:
        error = _invalid(first.message, first.code, first.status, dict(answers[0]))
        error.field = getattr(first, "field", None)
        return Outcome(False, error)
    codes = {e.code for e in errors}
    where = f"{path}[{answers[0]['index']}]"
    verb = "is" if len(errors) == 1 else "are"
    message = f"{len(errors)} of {items} events {verb} invalid; the first, {where}: {first.message}"
    status = 413 if all(e.status == 413 for e in errors) else first.status
    error = _invalid(message, first.code if len(codes) == 1 else "invalid_events", status,
                     {"rejected": list(answers)})
    return Outcome(False, error)


def _invalid(message: str, code: str, status: int, detail: Any) -> InvalidEvent:
    error = InvalidEvent(message, code=code)
    error.status = status
    error.detail = detail
    return error
