"""The auth service: which source a request belongs to, by the auth styles its dialect accepts.

Keys are looked up by their SHA-256 digest and the digests compared with ``hmac.compare_digest``,
so neither the lookup nor the comparison leaks a key's content through timing. Keys never
appear in logs or errors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence
from urllib.parse import parse_qs

from gateway.errors import Unauthorized
from gateway.sources import Source

HEADER_STYLES = ("basic", "bearer", "query_token")
_HOW = {
    "basic": "as the HTTP Basic user name (or password)",
    "bearer": "as Authorization: Bearer <key>",
    "query_token": "as the {param} query parameter",
    "body_write_key": "as {field} in the JSON body",
}
_ABSENT = hashlib.sha256(b"").digest()


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def presented_key(style: str, authorization: str | None, query_string: bytes,
                  query_param: str = "token") -> str | None:
    """The key a request presents in one header style, or None when it presents none that way.

    ``query_param`` names the query-key style's parameter; each route says which (``token``, ``writeKey``).
    """
    if style == "query_token":
        if not query_string:
            return None
        values = parse_qs(query_string.decode("latin-1")).get(query_param)
        return values[0] if values else None
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if style == "bearer" and scheme.lower() == "bearer":
        return value.strip() or None
    if style == "basic" and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("the Authorization header is not valid HTTP Basic credentials") from None
        user, _, password = decoded.partition(":")
        # The key belongs in the user name (Segment's convention); a key sent as the password alone,
        # a common slip, is taken as well rather than refused as "missing".
        return user or password or None
    return None


def how_to_send(styles: Sequence[str], body_field: str | None, query_param: str = "token") -> str:
    return " or ".join(_HOW[s].format(field=body_field or "writeKey", param=query_param) for s in styles)


class AuthService:
    """Maps key digests to sources. Rotated-out keys may stay valid until a deadline."""

    def __init__(self) -> None:
        self._keys: dict[bytes, tuple[bytes, Source, float | None]] = {}

    def add(self, source: Source, key: str, expires_at: float | None = None) -> None:
        digest = _digest(key)
        self._keys[digest] = (digest, source, expires_at)

    def remove_source(self, name: str) -> None:
        self._keys = {d: entry for d, entry in self._keys.items() if entry[1].name != name}

    def lookup(self, dialect: str, key: str) -> Source | None:
        digest = _digest(key)
        entry = self._keys.get(digest)
        stored = entry[0] if entry is not None else _ABSENT
        if not hmac.compare_digest(digest, stored) or entry is None:
            return None
        _, source, expires_at = entry
        if expires_at is not None and time.time() > expires_at:
            return None
        return source if source.dialect == dialect else None

    def authenticate(self, dialect: str, key: str | None, styles: Sequence[str],
                     body_field: str | None, query_param: str = "token") -> Source:
        if not key:
            raise Unauthorized(f"missing key: send your source's key {how_to_send(styles, body_field, query_param)}",
                               code="missing_key")
        source = self.lookup(dialect, key)
        if source is None:
            raise Unauthorized("unknown key: no source of this endpoint has it", code="invalid_key")
        return source
