"""One POST of one batch, and what came of it. Used by the sender, the test POST and validate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from gateway import GatewayError, parse_retry_after

from . import envelopes
from .headers import attempt_headers
from .settings import WebhookSettings
from .targets import public_target

EXCERPT_BYTES = 1000


@dataclass(frozen=True)
class Outcome:
    """``status`` is None when no answer came (refused connection, timeout, refused target)."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _SentOnce(httpx.AsyncByteStream):
    """A body that lets go of itself once sent. httpx keeps each response and its stream in a
    reference cycle, which holds the request and so its body until a full garbage collection:
    measured mid-drain, ten 6.7 MB bodies of attempts long finished were still in memory."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body, self._body = self._body, b""
        yield body


def new_client(settings: WebhookSettings) -> httpx.AsyncClient:
    # One client per webhook: its own connection pool, so one webhook's hanging target cannot
    # hold the connections another needs. Redirects are not followed: a 3xx is a failure, and
    # following one would step around the target check.
    size = settings.max_in_flight
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    return httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout_seconds), limits=limits,
                             follow_redirects=False, trust_env=False)


def prepare(settings: WebhookSettings, batch_id: str, stored: bytes) -> tuple[bytes, dict[str, str]]:
    """The body as sent and the attempt's headers (signed over the uncompressed body)."""
    body, content_type = envelopes.render(stored, settings)
    headers = attempt_headers(settings, batch_id, body, content_type, gzipped=settings.gzip)
    if settings.gzip:
        body = envelopes.compress(body)
    return body, headers


async def post(client: httpx.AsyncClient, settings: WebhookSettings, batch_id: str, stored: bytes) -> Outcome:
    """POST ``stored`` (a canonical JSON array) in the webhook's envelope; never raises."""
    if settings.envelope == "canonical" and not settings.gzip:
        body, headers = prepare(settings, batch_id, stored)
    else:
        # Re-wrapping or compressing 10k events takes tens of milliseconds: off the event loop,
        # so ingestion keeps answering (and zlib runs in parallel, it releases the GIL).
        body, headers = await asyncio.to_thread(prepare, settings, batch_id, stored)
    extensions: dict[str, str] = {}
    try:
        url = settings.url
        if not settings.allow_private_targets:
            pinned = await public_target(url)
            url, extensions = pinned.url, pinned.extensions
            headers.update(pinned.headers)
        # httpx times each phase; this bounds the whole attempt, a slow trickle included.
        async with asyncio.timeout(settings.timeout_seconds):
            headers["Content-Length"] = str(len(body))  # a stream's length is not known to httpx
            request = client.build_request("POST", url, content=_SentOnce(body), headers=headers,
                                           extensions=extensions)
            response = await client.send(request, stream=True)
            try:
                excerpt = await _excerpt(response)
            finally:
                await response.aclose()
    except TimeoutError:
        return Outcome(None, f"no answer within {settings.timeout_seconds:g} s")
    except httpx.TimeoutException:
        return Outcome(None, f"no answer within {settings.timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    except GatewayError as exc:
        return Outcome(None, exc.message)
    except Exception as exc:
        # A failure goes through backoff, the retry window and the failure counter like any
        # other; an exception left to the sender would leave the batch due at once, for ever.
        return Outcome(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code, body=excerpt)
    return Outcome(response.status_code, f"HTTP {response.status_code}",
                   parse_retry_after(response.headers.get("Retry-After")), excerpt)


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer, for batch-status and validate; the rest is never read into memory."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break
    return data[:EXCERPT_BYTES].decode("utf-8", "replace")
