"""What the core stamps on every event: ids, times (with clock-skew correction), IP and source.

Whatever is the same for every event of a request (the clock, the arrival time as text, the
random part of the message ids, a batch's shared ``sentAt``) is worked out once, in ``Stamp``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from gateway.canonical import CanonicalEvent
from gateway.sources import Source
from gateway.times import iso, parse_time, shift

_TAIL_MASK = (1 << 48) - 1


def new_message_id() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` makes."""
    return _uuid_text(int.from_bytes(os.urandom(16), "big"))


def _uuid_text(number: int) -> str:
    number = (number & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{number:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def drop_nulls(event: dict[str, Any]) -> None:
    """Remove keys whose value is JSON null, at any depth (SDKs send them for 'not set').

    Iterative, because a deeply nested event must not exhaust the interpreter's stack. Callers
    decide from bytes they already have (``b"null" not in raw``) whether the walk is needed.
    """
    stack: list[Any] = [event]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            nulls = [k for k, v in node.items() if v is None]
            for k in nulls:
                del node[k]
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        else:
            stack.extend(v for v in node if isinstance(v, dict | list))


class Stamp:
    """What is known of the request: when it arrived and from which address. One per request.

    ``message_id()`` gives version-4 UUIDs from one ``os.urandom`` per request: the first 74 bits
    are random per request, the last 48 start at a random value and count up, so ids stay unique
    and unguessable from outside (a client cannot pre-empt the id another event will get).
    """

    __slots__ = ("_id_prefix", "_id_tail", "_skews", "ip", "received", "received_iso", "received_ts")

    def __init__(self, received: datetime, ip: str | None) -> None:
        self.received = received
        self.received_iso = iso(received)
        self.received_ts = received.timestamp()
        self.ip = ip
        self._id_prefix = ""
        self._id_tail = 0
        self._skews: dict[str, timedelta] = {}

    def message_id(self) -> str:
        if not self._id_prefix:
            text = new_message_id()
            self._id_prefix, self._id_tail = text[:24], int(text[24:], 16)
        else:
            self._id_tail = (self._id_tail + 1) & _TAIL_MASK
        return f"{self._id_prefix}{self._id_tail:012x}"

    def skew(self, sent_at: Any) -> timedelta:
        """``receivedAt - sentAt``: the client clock's error, worked out once per distinct ``sentAt``
        (a batch usually shares one)."""
        known = self._skews.get(sent_at) if isinstance(sent_at, str) else None
        if known is None:
            known = self.received - parse_time(sent_at, "sentAt")
            if len(self._skews) < 64:  # a hostile batch of distinct values must not grow it
                self._skews[sent_at] = known
        return known


def enrich(event: CanonicalEvent, stamp: Stamp, source: Source, nulls: bool = True) -> CanonicalEvent:
    """Fill in ``messageId``, ``receivedAt``, ``timestamp`` (skew-corrected), ``context.ip`` and ``source``.

    With ``sentAt`` the client's clock error is ``sentAt - receivedAt``; subtracting it from the
    client's timestamp gives the event's time on our clock (Segment's rule). ``nulls=False`` says
    the caller knows the event holds no null (the bytes of the item it came from have none).
    """
    if nulls:
        drop_nulls(event)  # type: ignore[arg-type]
    message_id = event.get("messageId")
    if not message_id:
        event["messageId"] = stamp.message_id()
    elif not isinstance(message_id, str):
        event["messageId"] = str(message_id)
    event["receivedAt"] = stamp.received_iso
    client_time = event.get("timestamp") or event.get("originalTimestamp")
    sent_at = event.get("sentAt")
    if client_time:
        happened = parse_time(client_time, "timestamp")
        event["originalTimestamp"] = client_time
        if sent_at:
            happened = shift(happened, stamp.skew(sent_at), "timestamp")
        event["timestamp"] = iso(happened)
    else:
        event["timestamp"] = stamp.received_iso
        if sent_at:
            stamp.skew(sent_at)  # checked all the same: a bad sentAt is the client's fault
    if stamp.ip:
        context = event.get("context")
        if context is None:
            event["context"] = {"ip": stamp.ip}
        elif isinstance(context, dict) and "ip" not in context:
            context["ip"] = stamp.ip
    event["source"] = source.ref
    return event
