"""Golden files: compare what a dialect produced with a reviewed JSON file; ``--update-goldens`` rewrites.

For canonical events, values that change from run to run are checked for their shape and then
replaced by a marker, so a golden file still fails when the core stops stamping them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.testing.canonical import assert_canonical

RECEIVED = "<receivedAt>"
CORRECTED = "<timestamp corrected for clock skew>"
GENERATED_ID = "<uuid4 made by the gateway>"
CLIENT_IP = "<client ip>"
SENT_AT = "<sentAt by the client's clock>"
CLIENT_TIME = "<time by the client's clock>"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class _Settings:
    update = False  # set by the pytest plugin's --update-goldens


settings = _Settings()


def _is_time(value: Any) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def stable(event: Mapping[str, Any], *, sent_at: bool = False, client_times: bool = False) -> dict[str, Any]:
    """``event`` with its volatile values checked and replaced by markers.

    ``receivedAt``, a generated ``messageId``, ``context.ip`` and a ``timestamp`` equal to the
    arrival or corrected for skew always vary. ``sent_at`` marks ``sentAt`` (which must be there),
    for an SDK that stamps the time it sent; ``client_times`` marks ``sentAt`` and
    ``originalTimestamp`` where present, for events an SDK stamped with its own clock.
    """
    out = copy.deepcopy(dict(event))
    if sent_at:
        assert _is_time(out.get("sentAt")), f"sentAt missing or not a UTC time in {out}"
        out["sentAt"] = SENT_AT
    if client_times:
        for key, marker in (("sentAt", SENT_AT), ("originalTimestamp", CLIENT_TIME)):
            if key in out and out[key] != marker:
                assert isinstance(out[key], str) and out[key], f"{key} is not a time in {out}"
                out[key] = marker
    received = out.get("receivedAt")
    assert _is_time(received), f"receivedAt missing or not a UTC time in {out}"
    out["receivedAt"] = RECEIVED
    timestamp = out.get("timestamp")
    assert _is_time(timestamp), f"timestamp missing or not a UTC time in {out}"
    if client_times:  # the client's time corrected for skew: equal to receivedAt only by chance
        out["timestamp"] = CORRECTED
    elif timestamp == received:
        out["timestamp"] = RECEIVED
    elif "sentAt" in out:
        out["timestamp"] = CORRECTED
    message_id = out.get("messageId")
    assert isinstance(message_id, str) and message_id, f"messageId missing in {out}"
    if _UUID.match(message_id):
        out["messageId"] = GENERATED_ID
    context = out.get("context")
    if isinstance(context, dict) and "ip" in context:
        assert isinstance(context["ip"], str) and context["ip"], f"context.ip is empty in {out}"
        context["ip"] = CLIENT_IP
    return out


def assert_golden(path: Path | str, actual: Any) -> None:
    """``actual`` (any JSON value) equals the golden file at ``path``; ``--update-goldens`` writes it first."""
    path = Path(path)
    if settings.update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run pytest with --update-goldens to write it, then review it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected, f"differs from the golden file {path} (--update-goldens rewrites it)"


def assert_golden_events(path: Path | str, events: Iterable[Mapping[str, Any]], *,
                         sent_at: bool = False, client_times: bool = False) -> None:
    """Every event is canonical, and their stable forms, in order, equal the golden file at ``path``."""
    events = list(events)
    for event in events:
        assert_canonical(event)
    assert_golden(path, [stable(e, sent_at=sent_at, client_times=client_times) for e in events])
