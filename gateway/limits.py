"""Per-source request-rate limits (a token bucket each), answered 429 with Retry-After."""

from __future__ import annotations

import math
import time

from gateway.errors import GatewayError
from gateway.sources import Source


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, source: Source) -> None:
        rate = source.settings.get("rate_limit_per_second")
        if not rate:
            return
        burst = float(source.settings.get("rate_limit_burst", max(1, math.ceil(rate))))
        now = time.monotonic()
        tokens, last = self._buckets.get(source.name, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[source.name] = (tokens, now)
            wait = max(1, math.ceil((1 - tokens) / rate))
            raise GatewayError(f"source {source.name!r} is over its limit of {rate:g} requests per second",
                               status=429, code="rate_limited", headers={"Retry-After": str(wait)})
        self._buckets[source.name] = (tokens - 1, now)
