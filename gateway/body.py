"""Reading a request body: streamed under a size cap and a deadline, gunzipped under a cap, parsed."""

from __future__ import annotations

import asyncio
import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from gateway.bigints import refuse_big_integers
from gateway.errors import GatewayError, PayloadTooLarge

if TYPE_CHECKING:
    from starlette.types import Receive


class ClientGone(Exception):
    """The client disconnected before sending its whole body; nobody is left to answer."""


async def read_body(receive: Receive, limit: int, timeout: float) -> bytes:
    """The whole body, refusing it (413) as soon as it passes ``limit`` bytes, not after reading it all.

    ``timeout`` bounds the whole upload, so a client trickling bytes cannot hold a request open.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes",
                                          detail={"limit": "max_request_bytes", "max_bytes": limit})
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise GatewayError(f"request body not received within {timeout:g} seconds", status=408,
                           code="request_timeout") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a gzip body, stopping at ``limit`` bytes of output: a gzip bomb costs at most that."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, limit + 1)
    except zlib.error as exc:
        raise GatewayError(f"body is not valid gzip: {exc}", code="invalid_gzip") from None
    if len(out) > limit or decompressor.unconsumed_tail:
        raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit} bytes",
                              detail={"limit": "max_request_bytes", "max_bytes": limit})
    if not decompressor.eof:
        raise GatewayError("body is truncated gzip", code="invalid_gzip")
    if decompressor.unused_data:
        # A second member or bytes after the first: what they mean differs between decoders, and an
        # event a client sent must not be dropped (or smuggled in) by ours disagreeing with its own.
        raise GatewayError(f"{len(decompressor.unused_data)} bytes follow the end of the gzip data; "
                           "send exactly one gzip member", code="invalid_gzip")
    return out


def decode(data: bytes, content_encoding: str | None, limit: int) -> bytes:
    if not content_encoding or content_encoding.strip().lower() in ("identity", ""):
        return data
    if content_encoding.strip().lower() in ("gzip", "x-gzip"):
        return gunzip(data, limit)
    raise GatewayError(f"Content-Encoding {content_encoding!r} is not supported; use gzip or none",
                       status=415, code="unsupported_encoding")


def parse_json(data: bytes) -> Any:
    if not data.strip():
        raise GatewayError("empty body: expected a JSON document", code="invalid_json")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(f"body is not valid JSON: {exc}", code="invalid_json") from None
    refuse_big_integers(data)
    return document


def query_payload(query_string: bytes, key_params: tuple[str, ...]) -> dict[str, str]:
    """A GET route's payload: its query parameters as an object (the last of a repeated one wins),
    without the key, which is not stored. The dialect gives the names their meaning."""
    try:
        pairs = parse_qsl(query_string.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise GatewayError("the query string is not valid UTF-8", code="invalid_query") from None
    return {name: value for name, value in pairs if name not in key_params}
