"""One attempt's POST, against a real receiver: what it holds on to once it is done."""

from __future__ import annotations

import asyncio
import gc

from gateway_plugins.webhook_sink import attempt
from gateway_plugins.webhook_sink.settings import WebhookSettings

from tests.support.receiver import Receiver
from tests.support.references import remember, still_referenced

BODY_BYTES = 2_000_000


def test_a_finished_attempt_lets_go_of_its_body_before_any_garbage_collection(receiver: Receiver) -> None:
    """httpx keeps a response and its stream in a reference cycle, and the request (with its body)
    hangs off the response: a 10k-event body would stay until a full collection, and a delivery
    process draining a backlog held ten of them at once."""
    settings = WebhookSettings(name="partner", target=receiver.url, allow_private_targets=True)

    async def scenario() -> None:
        client = attempt.new_client(settings)
        sent: dict[int, bytes] = {}
        try:
            for i in range(5):
                body = b"[" + b",".join([b'{"messageId":"m%d-%d"}' % (i, n) for n in range(110_000)]) + b"]"
                assert len(body) >= BODY_BYTES
                remember(sent, body)
                outcome = await attempt.post(client, settings, f"batch-{i}", body)
                assert outcome.ok, outcome
                del body
            assert still_referenced(sent) == 0
        finally:
            await client.aclose()

    gc.collect()
    gc.disable()  # what a busy process's rare full collections amount to
    try:
        asyncio.run(scenario())
    finally:
        gc.enable()
    requests = receiver.requests
    assert len(requests) == 5
    # Sent with its length, not chunked: the body is handed to httpx as a stream of one part.
    assert all(int(r.headers["content-length"]) == len(r.body) >= BODY_BYTES for r in requests)
    assert all("transfer-encoding" not in r.headers for r in requests)
