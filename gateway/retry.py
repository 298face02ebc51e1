"""The one retry policy: exponential backoff with jitter, a cap, a window, and Retry-After.

The delivery engine and any plugin that retries on its own (the webhook sink) use this, so
every retry in the gateway behaves and is configured alike.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


@dataclass(frozen=True)
class RetryPolicy:
    """``delay(n)`` is the wait before attempt ``n + 1`` after ``n`` failures.

    ``window`` (seconds since the first failure) bounds how long one item is retried; None is
    forever. Jitter spreads retries of many failed items so they do not hit a target together.
    """

    initial: float = 1.0
    maximum: float = 300.0
    factor: float = 2.0
    jitter: float = 0.25
    window: float | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], **defaults: Any) -> RetryPolicy:
        """Read ``retry_initial_seconds``, ``retry_max_seconds`` and ``retry_for_seconds``."""
        values = {
            "initial": settings.get("retry_initial_seconds", defaults.get("initial", cls.initial)),
            "maximum": settings.get("retry_max_seconds", defaults.get("maximum", cls.maximum)),
            "window": settings.get("retry_for_seconds", defaults.get("window", cls.window)),
        }
        return cls(**values)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(0, failures - 1))
        wait = base * random.uniform(1 - self.jitter, 1 + self.jitter)
        # A server's Retry-After only ever lengthens our wait: it knows its own load.
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        return wait

    def expired(self, first_failure_at: float, now: float) -> bool:
        return self.window is not None and now - first_failure_at >= self.window


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit also takes "²", which float() refuses
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
