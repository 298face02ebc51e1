"""The ingestion endpoint: one per dialect route, a bare ASGI app on the hot path.

route -> auth -> limits, gzip, JSON -> unpack -> per item: size, schema, mapping, enrichment,
transforms -> group commit -> 200. Everything a request does not need is done at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import Receive, Scope, Send

from gateway import auth
from gateway.batch_policy import decide
from gateway.body import ClientGone, decode, query_payload, read_body
from gateway.clientip import client_ip
from gateway.decoders import BodyDecoder
from gateway.dialects import Dialect, DialectRoute, IngestResult, ItemContext, batch_fields
from gateway.enrich import Stamp, drop_nulls, enrich
from gateway.errors import GatewayError, InvalidEvent, PayloadTooLarge
from gateway.responses import send_empty, send_fixed, send_json
from gateway.sources import Source
from gateway.storage.log import Write
from gateway.validation import CompiledSchema

if TYPE_CHECKING:
    from gateway.runtime import Gateway

log = logging.getLogger("gateway.ingest")
# Describing a schema failure costs far more than validating; past this many invalid events in one
# request, the rest get the validator's short message. And the loop yields now and then.
EXPLAIN_AT_MOST = 100
YIELD_EVERY = 1000
WANTED_HEADERS = frozenset({b"authorization", b"content-encoding", b"content-length", b"content-type",
                            b"x-forwarded-for", b"origin", b"access-control-request-headers"})
# Answers that may leave part of the request body unread (key refused first, body too big or too slow).
ANSWERED_BEFORE_BODY = frozenset({401, 408, 413, 503})
SOURCE_KEY = "gateway.source"  # the request's source, once known, for the request log


class IngestEndpoint:
    def __init__(self, gateway: Gateway, dialect: Dialect, route: DialectRoute) -> None:
        self.gateway = gateway
        self.dialect = dialect
        self.route = route
        self.schema = CompiledSchema(dialect.item_schema)
        self.keys = auth.key_locations(dialect, route)
        self.decode_body = BodyDecoder(dialect.body_decoders)
        self.wanted_headers = WANTED_HEADERS | (
            {dialect.key_header.lower().encode("latin-1")} if dialect.key_header else set())
        self.metric_route = route.path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = self.wanted_headers
        headers_in = {k: v for k, v in scope["headers"] if k in wanted}
        raw_origin = headers_in.get(b"origin")
        origin = raw_origin.decode("latin-1") if raw_origin is not None else None
        if scope["method"] == "OPTIONS":
            requested = headers_in.get(b"access-control-request-headers")
            await send_empty(send, 204, self.gateway.cors.preflight_headers(
                origin, requested.decode("latin-1") if requested else None))
            return
        try:
            status, body, headers = 200, await self._handle(scope, receive, headers_in, origin), None
        except GatewayError as error:
            status, headers = error.status, error.headers
            if status in ANSWERED_BEFORE_BODY:
                # Hypercorn drops a connection whose request body was not read to the end; saying so
                # keeps a client from sending its next request into a connection about to close.
                headers = {**headers, "Connection": "close"}
            body = orjson.dumps(self.dialect.error_body(error.body(), error))
            self.gateway.request_log.refused(self.route.path, scope.get(SOURCE_KEY), status, error.code, error.message)
            if self.route.fixed_answer is not None:
                # A pixel shows an image whatever happened; the reason rides in a header.
                headers = {**headers, "X-Gateway-Error": f"{status} {error.code}"}
        except ClientGone:
            return
        cors = self.gateway.cors.answer_headers(origin)
        headers = {**headers, **cors} if headers else cors
        if self.route.fixed_answer is not None:
            await send_fixed(send, self.route.fixed_answer, headers)
        else:
            await send_json(send, status, body, headers)
        # Counted with the status it came to, also when a pixel answered its image anyway.
        self.gateway.metrics.request(self.metric_route, status)

    async def _handle(self, scope: Scope, receive: Receive, headers: dict[bytes, bytes], origin: str | None) -> bytes:
        gateway = self.gateway
        query_string = scope.get("query_string", b"")
        key = self.keys.header_key(headers, query_string)
        source: Source | None = gateway.auth.authenticate(self.dialect.name, key, self.keys) if key else None
        if source is None and not self.keys.in_body:
            gateway.auth.authenticate(self.dialect.name, None, self.keys)
        limit = source.max_request_bytes if source else gateway.request_limit(self.dialect.name)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise PayloadTooLarge(f"request body of {int(length)} bytes exceeds the limit of {limit} bytes",
                                  detail={"limit": "max_request_bytes", "max_bytes": limit})
        if scope["method"] == "GET":
            data = query_string
            payload: Any = query_payload(data, self.keys.query_params)
        else:
            data = await read_body(receive, limit, gateway.config.server.body_timeout_seconds)
            encoding = headers.get(b"content-encoding")
            data = decode(data, encoding.decode("latin-1") if encoding else None, limit)
            content_type = headers.get(b"content-type")
            payload = self.decode_body(data, content_type.decode("latin-1") if content_type else None,
                                       query_string, limit)
        # Taken out of the body even when a header authenticated: a key is never stored.
        body_key = self.keys.body_key(payload) if self.keys.body_fields else None
        if source is None:
            source = gateway.auth.authenticate(self.dialect.name, body_key, self.keys)
        if len(data) > source.max_request_bytes:
            raise PayloadTooLarge(f"request body exceeds the limit of {source.max_request_bytes} bytes",
                                  detail={"limit": "max_request_bytes", "max_bytes": source.max_request_bytes})
        scope[SOURCE_KEY] = source.name
        gateway.cors.check(origin, source.allowed_origins)
        gateway.limiter.check(source)
        peer = scope.get("client")
        forwarded = headers.get(b"x-forwarded-for")
        ip = client_ip(peer[0] if peer else None, forwarded.decode("latin-1") if forwarded else None,
                       gateway.trusted_proxies)
        result = await self._ingest(payload, source, Stamp(datetime.now(UTC), ip), len(data))
        return orjson.dumps(self.dialect.ok_body(self._ok(result), result))

    @staticmethod
    def _ok(result: IngestResult) -> dict[str, Any]:
        body: dict[str, Any] = {"success": True, "accepted": result.accepted}
        if result.rejected:
            body["rejected"] = list(result.rejected)
        return body

    async def _ingest(self, payload: Any, source: Source, stamp: Stamp, body_size: int) -> IngestResult:
        unpacked = self.dialect.unpack(payload, self.route)
        batch = batch_fields(payload, unpacked)
        items, many = unpacked.items, unpacked.many
        rows: list[dict[str, Any]] = []
        rejections: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        errors: list[InvalidEvent] = []
        cap = source.max_events_per_request
        if len(items) > cap:
            raise PayloadTooLarge(f"{len(items)} events in one request exceed the limit of {cap}",
                                  detail={"limit": "max_events_per_request", "max_events": cap})
        check_size = body_size > source.max_event_bytes
        context = ItemContext(source=source, route=self.route, index=0, batch=batch or {})  # one per request
        item_rows = self._guarded_item
        for index, item in enumerate(items):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # a huge request must not keep other clients waiting
            context.index = index
            try:
                item_rows(item, context, stamp, rows, check_size, len(errors) < EXPLAIN_AT_MOST)
            except InvalidEvent as error:
                field = _join(f"{unpacked.path}[{index}]" if many else "", error.field)
                errors.append(error)
                answer = {"index": index, "code": error.code, "message": error.message, "field": field}
                if error.code == "event_too_large":
                    answer["limit"] = "max_event_bytes"
                answers.append(answer)
                rejections.append(self._rejection(source, stamp, index if many else None, error, field, item))
        outcome = decide(errors, answers, many=many, items=len(items), valid=len(rows),
                         atomic=source.batch_mode == "atomic", path=unpacked.path)
        if not outcome.commit:
            rows = []
        gateway = self.gateway
        await gateway.durable.append(Write(source.name, rows, rejections,
                                           rejections[-1]["reason"] if rejections else None))
        gateway.metrics.accepted.labels(source.name).inc(len(rows))
        if rejections:
            gateway.metrics.rejected.labels(source.name).inc(len(rejections))
        if outcome.error is not None:
            raise outcome.error
        if rejections:
            gateway.request_log.rejected_items(self.route.path, source.name, len(rejections), len(items),
                                               errors[0].code if len({e.code for e in errors}) == 1
                                               else "invalid_events")
        return IngestResult(accepted=len(rows), rejected=answers)

    def _guarded_item(self, item: Any, context: ItemContext, stamp: Stamp, rows: list[dict[str, Any]],
                      check_size: bool, explain: bool) -> None:
        """``_item``, with any failure that is not the client's answer turned into that event's rejection.

        Value decoding raises InvalidEvent naming the field; should a dialect or transform still raise
        something else for a value it did not foresee, only that event is refused (and the fault
        logged for the developer), so the other events of the request are kept and an SDK retrying
        the batch is not stuck on it for ever.
        """
        try:
            self._item(item, context, stamp, rows, check_size, explain)
        except GatewayError:
            raise
        except Exception:
            log.exception("dialect %s: event %d of a request from source %r could not be mapped",
                          self.dialect.name, context.index, context.source.name)
            raise InvalidEvent("event holds a value this gateway cannot represent", code="unmappable_event") \
                from None

    def _item(self, item: Any, context: ItemContext, stamp: Stamp, rows: list[dict[str, Any]],
              check_size: bool, explain: bool) -> None:
        """Validate, map and enrich one item, appending its log rows to ``rows`` (all or none)."""
        source = context.source
        try:
            # Kept beside each event (what the client sent, for the admin events view) and sized here;
            # the same bytes tell whether the item holds a null to drop.
            raw = orjson.dumps(item)
        except orjson.JSONEncodeError as exc:  # parsed, but nested deeper than can be written back
            raise InvalidEvent(f"event cannot be stored: {exc}", code="unencodable_event") from None
        if check_size and len(raw) > source.max_event_bytes:
            error = InvalidEvent(f"event of {len(raw)} bytes exceeds the limit of {source.max_event_bytes} bytes",
                                 code="event_too_large")
            error.status = 413
            raise error
        problem = self.schema.check(item, explain=explain)
        if problem is not None:
            raise InvalidEvent(problem.message, field=problem.field)
        nulls = b"null" in raw
        transform = self.gateway.transform
        received, name = stamp.received_ts, source.name
        mapped = []
        for event in self.dialect.map(item, context):
            event = enrich(event, stamp, source, nulls)
            if transform is not None:
                kept = transform(event, source)
                if kept is None:
                    continue
                event = kept
            try:
                data = orjson.dumps(event)
                if b"null" in data:  # a null the mapping or a transform put there: the one dumps tells
                    drop_nulls(event)  # type: ignore[arg-type]
                    data = orjson.dumps(event)
            except orjson.JSONEncodeError as exc:
                raise InvalidEvent(f"event cannot be stored: {exc}", code="unencodable_event") from None
            mapped.append({"source": name, "received_at": received, "event": data, "raw": raw})
        rows.extend(mapped)

    @staticmethod
    def _rejection(source: Source, stamp: Stamp, index: int | None, error: InvalidEvent, field: str | None,
                   item: Any) -> dict[str, Any]:
        try:
            payload = orjson.dumps(item)[:65536]
        except orjson.JSONEncodeError:
            payload = None
        return {"source": source.name, "received_at": stamp.received_ts, "item_index": index,
                "code": error.code, "reason": error.message[:1000], "field": field, "payload": payload}


def _join(prefix: str, field: str | None) -> str | None:
    if not field:
        return prefix or None
    if not prefix:
        return field
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"

