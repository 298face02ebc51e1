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
    - ``query_key_params``: the query parameters the ``query_token`` style reads here (None: the dialect's).
    - ``fixed_answer``: ``(media type, body)`` answered with 200 whatever happened (a tracking pixel);
      a refusal is then told in the ``X-Gateway-Error`` header and counted with its own status.
    - A ``GET`` route's payload is its query string as an object (the key parameter removed).
    """

    path: str
    kind: str | None = None
    methods: tuple[str, ...] = ("POST",)
    summary: str = ""
    query_key_params: tuple[str, ...] | None = None
    auth: tuple[str, ...] | None = None
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
    # Fields the whole request shares (``sentAt``, a shared ``context``), handed to ``map`` as
    # ``ItemContext.batch``. None: the core takes the body's other top-level fields when the items
    # sit under ``path`` in an object, else nothing.
    batch: Mapping[str, Any] | None = None


@dataclass(slots=True)
class ItemContext:
    """What a mapping may know about the event it maps.

    The core makes one per request and moves ``index`` from item to item (no object per event),
    so a mapping reads it while it runs and keeps no reference to it.
    """

    source: Source
    route: DialectRoute
    index: int
    batch: Mapping[str, Any] = field(default_factory=dict)


def batch_fields(body: Any, unpacked: Unpacked) -> Mapping[str, Any]:
    """What ``ItemContext.batch`` holds for the items of ``body`` (see ``Unpacked.batch``)."""
    if unpacked.batch is not None:
        return unpacked.batch
    if unpacked.many and unpacked.path and isinstance(body, dict):
        return {k: v for k, v in body.items() if k != unpacked.path}
    return {}


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
    """A vendor's HTTP format. Every field is documented, with its default, in docs/plugins.md.

    - ``auth``: names of core auth styles, tried in order (``basic``, ``bearer``, ``header``,
      ``query_token``, ``body_write_key``). Every style matches the strings ``credentials(settings)``
      returns; ``key_header``, ``query_key_params`` and ``body_key_fields`` say where the last three look.
    - ``source_schema``: JSON Schema ``properties`` (and ``required``) of the dialect's own keys in a
      ``[[sources]]`` table; the core adds its common keys.
    - ``item_schema``: JSON Schema of one event as sent; compiled once at start-up.
    - ``body_decoders``: names of core body decoders (``json``, ``form_data``, ``gzip_query``).
    - ``unpack(body, route)``: split a parsed body into items; raise ``GatewayError`` for a bad envelope.
    - ``map(item, ctx)``: a pure function from one valid item to canonical events; raise
      ``InvalidEvent`` for an item-level problem, ``GatewayError`` to refuse the whole request.
    - ``ok_body`` / ``error_body``: adjust the core's JSON answers to what the vendor's SDKs read.

    The core checks the declaration when it is registered (``gateway.dialect_checks``).
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
    # None: the required string keys of ``source_schema`` (a key is never shown in full by default).
    secret_fields: tuple[str, ...] | None = None
    body_key_fields: tuple[str, ...] = ()
    query_key_params: tuple[str, ...] = ("token",)
    key_header: str | None = None
    body_decoders: tuple[str, ...] = ("json",)
    max_event_bytes: int = 32 * 1024
    max_request_bytes: int = 4 * 1024 * 1024
    ok_body: Callable[[dict[str, Any], IngestResult], dict[str, Any]] = _same_ok
    error_body: Callable[[dict[str, Any], GatewayError], dict[str, Any]] = _same_error
    description: str = ""

    @property
    def secrets(self) -> tuple[str, ...]:
        """The source keys shown only as their last characters: ``secret_fields`` or its default."""
        if self.secret_fields is not None:
            return tuple(self.secret_fields)
        properties = self.source_schema.get("properties", {})
        return tuple(k for k in self.source_schema.get("required", ())
                     if properties.get(k, {}).get("type") == "string")
