"""The dialect in-process through the plugin kit's pipeline (gateway.testing): the code the server runs.

For fast tests of the mapping; tests/segment_style/test_http_seeds.py checks the same golden files
against what a real gateway's stdout sink prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.testing import Outcome, Pipeline

from .seeds import WRITE_KEY

NO_IDENTITY_KEY = "wk_no_identity_needed"
# Atomic, so that a request with any invalid event is refused and its first problem answered, as a
# mapping test wants; the partial batch policy has its own tests (test_http_rules.py, test_batch_policy.py).
SOURCES = [
    {"name": "backend", "dialect": "segment_style", "write_key": WRITE_KEY, "batch_mode": "atomic"},
    {"name": "anonymous", "dialect": "segment_style", "write_key": NO_IDENTITY_KEY, "batch_mode": "atomic",
     "require_identity": False},
]


@dataclass
class Refused:
    """A refused request: the answer, and the field its first invalid event names (None for the envelope)."""

    status: int
    code: str
    message: str
    detail: Any
    field: str | None
    item_error: bool  # an event failed its schema or mapping (recorded as a rejection), not the envelope


class SegmentPipeline:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def send(self, path: str, body: Any, key: str = WRITE_KEY) -> Outcome:
        """POST ``body`` (JSON text as sent, or a value) with the key as HTTP Basic, as the SDKs do."""
        content = body.encode() if isinstance(body, str) else orjson.dumps(body)
        return self.pipeline.post(path, content=content, auth=(key, ""),
                                  headers={"Content-Type": "application/json"})

    def run(self, path: str, body: Any, key: str = WRITE_KEY) -> list[dict[str, Any]]:
        """The canonical events one request committed; fails when it was refused."""
        outcome = self.send(path, body, key)
        assert outcome.status == 200, (path, body, outcome.answer)
        assert outcome.answer == {"success": True, "accepted": len(outcome.events)}, outcome.answer
        return outcome.events

    def error_of(self, path: str, body: Any, key: str = WRITE_KEY) -> Refused:
        outcome = self.send(path, body, key)
        assert outcome.status != 200, f"{path} accepted {body!r}"
        answer = outcome.answer
        assert outcome.events == [], outcome.events
        if outcome.rejections:
            field = outcome.rejections[0]["field"]
        else:
            field = answer["detail"].get("field") if isinstance(answer["detail"], dict) else None
        return Refused(outcome.status, answer["code"], answer["message"], answer["detail"], field,
                       bool(outcome.rejections))


def open_pipeline() -> Iterator[SegmentPipeline]:
    with Pipeline(sources=SOURCES) as pipeline:
        yield SegmentPipeline(pipeline)
