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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from gateway.errors import Unauthorized
from gateway.sources import Source

if TYPE_CHECKING:
    from gateway.dialects import Dialect, DialectRoute

STYLES = ("basic", "bearer", "header", "query_token", "body_write_key")
HEADER_STYLES = ("basic", "bearer", "header", "query_token")
_ABSENT = hashlib.sha256(b"").digest()


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class KeyLocations:
    """Where a route's clients put their key: the auth styles, in order, and their places.

    ``body_fields`` are dotted paths (``api_key``, ``properties.token``); a path that meets an array
    goes on into each element, so ``batch.properties.token`` reads every batch item's.
    """

    styles: tuple[str, ...]
    query_params: tuple[str, ...] = ("token",)
    header: str | None = None
    body_fields: tuple[str, ...] = ()
    # Worked out once here, not on each request that looks for a key.
    header_styles: tuple[str, ...] = field(init=False, repr=False, compare=False)
    body_paths: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header_styles", tuple(s for s in self.styles if s in HEADER_STYLES))
        object.__setattr__(self, "body_paths", tuple(tuple(path.split(".")) for path in self.body_fields))

    @property
    def in_body(self) -> bool:
        return "body_write_key" in self.styles

    def how_to_send(self) -> str:
        how = {
            "basic": "as the HTTP Basic user name (or password)",
            "bearer": "as Authorization: Bearer <key>",
            "header": f"in the {self.header} header",
            "query_token": " or ".join(f"as the {p} query parameter" for p in self.query_params),
            "body_write_key": " or ".join(f"as {f} in the body" for f in self.body_fields),
        }
        return " or ".join(how[s] for s in self.styles)

    def header_key(self, headers: Mapping[bytes, bytes], query_string: bytes) -> str | None:
        """The key the request's headers or query string present, by the first style that finds one."""
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        for style in self.header_styles:
            key = self._presented(style, authorization, headers, query_string)
            if key:
                return key
        return None

    def _presented(self, style: str, authorization: str | None, headers: Mapping[bytes, bytes],
                   query_string: bytes) -> str | None:
        if style == "query_token":
            if not query_string:
                return None
            query = parse_qs(query_string.decode("latin-1"))
            for name in self.query_params:
                values = query.get(name)
                if values and values[0]:
                    return values[0]
            return None
        if style == "header":
            assert self.header is not None
            value = headers.get(self.header.lower().encode("latin-1"), b"").decode("latin-1").strip()
            return value or None
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

    def body_key(self, body: Any) -> str | None:
        """Take the key out of a parsed body: every declared path is removed (so no copy of a key is
        stored), and all the values found must be one and the same key."""
        found: list[Any] = []
        for path in self.body_paths:
            _pop_path(body, path, found)
        if not found:
            return None
        first = found[0]
        if not isinstance(first, str) or any(value != first for value in found):
            raise Unauthorized("the body carries more than one key, or a key that is not a string",
                               code="invalid_key")
        return first


def _pop_path(root: Any, parts: tuple[str, ...], found: list[Any]) -> None:
    # A loop with its own stack, not recursion: a client's arrays nested a thousand deep (JSON parses
    # 1,024 levels) would exhaust the interpreter's stack, a 500 on a request that must get a 4xx.
    last = len(parts) - 1
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, list):
            stack.extend((element, at) for element in reversed(node))  # in order, as sent
            continue
        if not isinstance(node, dict) or parts[at] not in node:
            continue
        if at == last:
            value = node.pop(parts[at])
            if value is not None:
                found.append(value)
            continue
        stack.append((node[parts[at]], at + 1))


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

    def authenticate(self, dialect: str, key: str | None, where: KeyLocations) -> Source:
        if not key:
            raise Unauthorized(f"missing key: send your source's key {where.how_to_send()}",
                               code="missing_key")
        source = self.lookup(dialect, key)
        if source is None:
            raise Unauthorized("unknown key: no source of this endpoint has it", code="invalid_key")
        return source


def key_locations(dialect: Dialect, route: DialectRoute | None = None) -> KeyLocations:
    """Where ``dialect``'s clients put their key on ``route`` (a route may name its own query parameters)."""
    params = route.query_key_params if route is not None and route.query_key_params else dialect.query_key_params
    styles = route.auth if route is not None and route.auth else dialect.auth
    return KeyLocations(styles=tuple(styles), query_params=tuple(params), header=dialect.key_header,
                        body_fields=tuple(dialect.body_key_fields))
