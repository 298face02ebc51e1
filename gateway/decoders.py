"""Body decoders a dialect picks by name: how the bytes of a request become the parsed body.

- ``json``: the body is JSON, whatever the Content-Type says (SDKs send ``application/json``,
  ``text/plain`` to avoid a CORS preflight, or nothing).
- ``form_data``: an ``application/x-www-form-urlencoded`` body whose ``data`` field holds the JSON,
  base64-encoded or plain (posthog-js, Mixpanel).
- ``gzip_query``: the body is gzip when the query says ``compression=gzip`` or ``gzip-js``
  (posthog-js sends no Content-Encoding header then).

Content-Encoding gzip is always understood; every decompression stops at the request's size limit.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from gateway.body import gunzip, parse_json
from gateway.errors import GatewayError

DECODERS = ("json", "form_data", "gzip_query")
FORM_TYPE = "application/x-www-form-urlencoded"
GZIP_FLAGS = frozenset({"gzip", "gzip-js"})


class BodyDecoder:
    """The chosen decoders of one dialect, checked once; called once per request."""

    def __init__(self, names: Sequence[str]) -> None:
        unknown = [n for n in names if n not in DECODERS]
        if unknown or not names:
            raise ValueError(f"unknown body decoder(s) {', '.join(unknown) or '(none given)'}; "
                             f"known: {', '.join(DECODERS)}")
        self.json = "json" in names
        self.form = "form_data" in names
        self.gzip_query = "gzip_query" in names

    def __call__(self, data: bytes, content_type: str | None, query_string: bytes, limit: int) -> Any:
        if self.gzip_query and query_string and _gzip_flagged(query_string):
            data = gunzip(data, limit)
        media = (content_type or "").partition(";")[0].strip().lower()
        if self.form and media == FORM_TYPE:
            return _form_json(data)
        if self.json:
            return parse_json(data)
        raise GatewayError(f"Content-Type {media or '(none)'} is not accepted here; send {FORM_TYPE}",
                           status=415, code="unsupported_media_type")


def _gzip_flagged(query_string: bytes) -> bool:
    values = parse_qs(query_string.decode("latin-1")).get("compression", ())
    return any(v.lower() in GZIP_FLAGS for v in values)


def _form_json(data: bytes) -> Any:
    try:
        fields = parse_qs(data.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise GatewayError("form body is not valid UTF-8", code="invalid_body") from None
    values = fields.get("data")
    if not values or not values[0].strip():
        raise GatewayError("form body has no data field holding the events", code="invalid_body",
                           detail={"field": "data"})
    text = values[0].strip()
    if text[:1] in ("{", "["):
        return parse_json(text.encode("utf-8"))
    try:
        # Both alphabets and missing padding occur in the wild; the decoded JSON is never larger.
        # A "+" the client did not escape arrives as a space.
        decoded = base64.b64decode(text.replace(" ", "+").replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4),
                                   validate=True)
    except (binascii.Error, ValueError):
        raise GatewayError("form field data is neither JSON nor base64-encoded JSON", code="invalid_body",
                           detail={"field": "data"}) from None
    return parse_json(decoded)
