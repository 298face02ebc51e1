"""What a dialect plugin registers: its routes, auth styles, input schema and mapping."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from gateway.canonical import CanonicalEvent
    from gateway.errors import GatewayError
    from gateway.sources import Source


@dataclass(frozen=True)
class DialectRoute:
    """One HTTP route a dialect owns. ``kind`` is handed to ``unpack`` (e.g. the type a path implies).

    - ``auth``: this route's auth styles, when they differ from the dialect's.
    - ``query_key``: the query parameter the ``query_token`` style reads here.
    - ``fixed_answer``: ``(media type, body)`` answered with 200 whatever happened (a tracking pixel);
      a refusal is then told in the ``X-Gateway-Error`` header and counted with its own status.
    - A ``GET`` route's payload is its query string as an object (the key parameter removed).
    """

    path: str
    kind: str | None = None
    methods: tuple[str, ...] = ("POST",)
    summary: str = ""
    auth: tuple[str, ...] | None = None
    query_key: str = "token"
    fixed_answer: tuple[str, bytes] | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        """Where the route is served: its path with and without a trailing slash (no redirect)."""
        from gateway.routes import slash_forms

        return slash_forms(self.path)


class Unpacked(NamedTuple):
    """The events of one request body, as sent. ``many`` is true for batch or array bodies.

    ``path`` is where the items sit in the body, for error messages: ``"batch"`` makes the
    fourth item's ``event`` field ``batch[3].event``; the default makes it ``[3].event``.
    """

    items: list[Any]
    many: bool
    path: str = ""


@dataclass(frozen=True)
class ItemContext:
    """What a mapping may know about the event it maps."""

    source: Source
    route: DialectRoute
    index: int


@dataclass(frozen=True)
class IngestResult:
    """What a request came to: how many canonical events were committed and which items were rejected."""

    accepted: int
    rejected: Sequence[Mapping[str, Any]] = ()


def _same_ok(body: dict[str, Any], result: IngestResult) -> dict[str, Any]:
    return body


def _same_error(body: dict[str, Any], error: GatewayError) -> dict[str, Any]:
    return body


@dataclass(frozen=True)
class Dialect:
    """A vendor's HTTP format.

    - ``auth``: names of core auth styles, tried in order (``basic``, ``bearer``, ``query_token``,
      ``body_write_key``). Every style matches the strings ``credentials(source_config)`` returns.
    - ``source_schema``: JSON Schema ``properties`` (and ``required``) of the dialect's own keys in a
      ``[[sources]]`` table; the core adds its common keys.
    - ``item_schema``: JSON Schema of one event as sent; compiled once at start-up.
    - ``unpack(body, route)``: split a parsed body into items; raise ``GatewayError`` for a bad envelope.
    - ``map(item, ctx)``: a pure function from one valid item to canonical events; raise
      ``InvalidEvent`` for an item-level problem, ``GatewayError`` to refuse the whole request.
    - ``ok_body`` / ``error_body``: adjust the core's JSON answers to what the vendor's SDKs read.
    """

    name: str
    routes: Sequence[DialectRoute]
    auth: Sequence[str]
    item_schema: Mapping[str, Any]
    unpack: Callable[[Any, DialectRoute], Unpacked]
    map: Callable[[Any, ItemContext], list[CanonicalEvent]]
    credentials: Callable[[Mapping[str, Any]], list[str]]
    source_schema: Mapping[str, Any] = field(default_factory=dict)
    generate_credentials: Callable[[], dict[str, str]] | None = None
    secret_fields: tuple[str, ...] = ("write_key",)
    body_key_field: str | None = None
    max_event_bytes: int = 32 * 1024
    max_request_bytes: int = 4 * 1024 * 1024
    ok_body: Callable[[dict[str, Any], IngestResult], dict[str, Any]] = _same_ok
    error_body: Callable[[dict[str, Any], GatewayError], dict[str, Any]] = _same_error
    description: str = ""
