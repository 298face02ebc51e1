"""The test POST: one sample event, sent exactly as a real batch would be (envelope, headers,
signature), when a webhook is created, when its target changes, and on ``validate``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson

from gateway import GatewayError

from . import attempt
from .settings import WebhookSettings
from .targets import public_target


def sample_batch() -> bytes:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    event = {
        "messageId": f"test-{uuid.uuid4()}",
        "type": "track",
        "event": "Webhook Test",
        "properties": {"test": True},
        "timestamp": now,
        "receivedAt": now,
        "source": {"id": "", "name": "gateway", "dialect": "test"},
    }
    return orjson.dumps([event])


async def send_test(settings: WebhookSettings) -> attempt.Outcome:
    client = attempt.new_client(settings)
    try:
        return await attempt.post(client, settings, f"test-{uuid.uuid4()}", sample_batch())
    finally:
        await client.aclose()


def outcome_json(outcome: attempt.Outcome) -> dict[str, object]:
    return {"status": outcome.status, "error": outcome.error, "body": outcome.body}


async def require_working_target(settings: WebhookSettings) -> None:
    """Refuse (400, with what the target said) unless the target is allowed and answers 2xx."""
    if not settings.allow_private_targets:
        await public_target(settings.target)
    outcome = await send_test(settings)
    if not outcome.ok:
        said = f"HTTP {outcome.status}" if outcome.status is not None else outcome.error
        raise GatewayError(f"the test POST to {settings.target} failed: {said}", code="target_test_failed",
                           detail={"target": settings.target, "response": outcome_json(outcome)})
