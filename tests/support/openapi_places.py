"""The key places an ingestion operation of ``/openapi.json`` names, read back as a client would,
and the request that presents a key at each: to check the document against the auth service."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.auth import KeyLocations
from gateway.openapi_keys import KEY_FIELD

ARRAY = "[]"  # a path step into each element of an array


@dataclass(frozen=True)
class Place:
    kind: str  # "basic", "bearer", "header", "query" or "body"
    name: str = ""  # the header or query parameter name
    path: tuple[str, ...] = ()  # for "body": the fields, ARRAY for a step into an array

    def __str__(self) -> str:
        return f"{self.kind}:{self.name or self.dotted}"  # what declared_places writes

    @property
    def dotted(self) -> str:
        """The body path as a dialect declares it (``batch.api_key``: arrays are walked into)."""
        return ".".join(p for p in self.path if p != ARRAY)

    def request(self, key: str) -> dict[str, Any]:
        """httpx keyword arguments presenting ``key`` here, and nowhere else."""
        if self.kind == "basic":
            return {"auth": (key, "")}
        if self.kind == "bearer":
            return {"headers": {"Authorization": f"Bearer {key}"}}
        if self.kind == "header":
            return {"headers": {self.name: key}}
        if self.kind == "query":
            return {"params": {self.name: key}}
        return {"json": _body_at(self.path, key)}


def _body_at(path: tuple[str, ...], value: Any) -> Any:
    if not path:
        return value
    if path[0] == ARRAY:
        return [_body_at(path[1:], value)]
    return {path[0]: _body_at(path[1:], value)}


def _key_fields(node: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if not isinstance(node, Mapping):
        return
    if dict(node) == KEY_FIELD:
        yield path
        return
    for combined in ("allOf", "oneOf", "anyOf"):
        for sub in node.get(combined, []):
            yield from _key_fields(sub, path)
    if "items" in node:
        yield from _key_fields(node["items"], (*path, ARRAY))
    for name, sub in node.get("properties", {}).items():
        yield from _key_fields(sub, (*path, name))


def places(document: Mapping[str, Any], operation: Mapping[str, Any]) -> list[Place]:
    """Every place ``operation`` says the key may be sent: its security schemes, then its body fields."""
    schemes = document["components"]["securitySchemes"]
    found: list[Place] = []
    for alternative in operation["security"]:
        for name in alternative:
            scheme = schemes[name]
            if scheme["type"] == "http":
                found.append(Place(scheme["scheme"]))
            else:
                assert scheme["type"] == "apiKey" and scheme["in"] in ("header", "query"), scheme
                found.append(Place(scheme["in"], scheme["name"]))
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    found.extend(Place("body", path=path) for path in dict.fromkeys(_key_fields(body, ())))
    return found


def status_of(response: httpx.Response) -> tuple[int, str | None]:
    """What a request came to: the status and error code (a pixel answers its image, and says why in a header)."""
    refused = response.headers.get("x-gateway-error")
    if refused:
        status, _, code = refused.partition(" ")
        return int(status), code
    if response.status_code == 200:
        return 200, None
    body = response.json()
    return response.status_code, body.get("code") if isinstance(body, dict) else None


def declared_places(keys: KeyLocations) -> set[str]:
    """The places the auth service reads on a route (``key_locations``), as ``str(Place)`` writes them."""
    out: set[str] = set()
    for style in keys.styles:
        if style in ("basic", "bearer"):
            out.add(f"{style}:")
        elif style == "header":
            out.add(f"header:{keys.header}")
        elif style == "query_token":
            out.update(f"query:{p}" for p in keys.query_params)
        elif style == "body_write_key":
            out.update(f"body:{f}" for f in keys.body_fields)
    return out


def described_places(document: Mapping[str, Any], operation: Mapping[str, Any]) -> set[str]:
    """The places ``operation`` describes, a body path once however many body forms hold it."""
    return {str(p) for p in places(document, operation)}


def ingest_operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(path, method, operation) of every ingestion route: tagged with its dialect, named after it."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            tags = operation.get("tags") or ["admin"]
            if tags[0] != "admin" and operation.get("operationId") == f"{tags[0]}:{path}":
                yield path, method.upper(), operation
