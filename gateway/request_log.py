"""One line on standard error per refused request, so "my events don't show up" has an answer there.

Each line: the route, the source when known, the status and the error code (and how many items of
a batch were rejected). Never a key, never a payload. At most ``RATE`` lines a second (bursts of
``BURST``): a flood of bad requests cannot fill the disk; what was left out is counted in the next
line that is written.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("gateway.requests")
RATE = 10.0
BURST = 50.0


class RequestLog:
    def __init__(self, rate: float = RATE, burst: float = BURST) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = time.monotonic()
        self.suppressed = 0

    def _allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.suppressed += 1
        return False

    def refused(self, route: str, source: str | None, status: int, code: str, message: str = "") -> None:
        """A request answered with an error."""
        self._write(route, source, status, code, message, rejected=None)

    def rejected_items(self, route: str, source: str, rejected: int, total: int, code: str) -> None:
        """A batch committed in part: ``rejected`` of ``total`` items were refused and recorded."""
        self._write(route, source, 200, code, f"{rejected} of {total} events rejected (gateway rejections)",
                    rejected=rejected)

    def _write(self, route: str, source: str | None, status: int, code: str, message: str,
               rejected: int | None) -> None:
        if not self._allow():
            return
        fields: dict[str, object] = {"route": route, "source": source, "status": status, "code": code}
        if rejected is not None:
            fields["rejected"] = rejected
        skipped, self.suppressed = self.suppressed, 0
        if skipped:
            fields["not_logged_before"] = skipped
        verb = "refused" if status >= 400 else "partly rejected"
        text = f"{verb} {route} source={source or '-'} status={status} code={code}"
        if message:
            text += f": {message[:300]}"
        if skipped:
            text += f" ({skipped} more refused requests not logged)"
        log.warning("%s", text, extra={"fields": fields})
