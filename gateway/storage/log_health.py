"""Whether the durable log can write now, for ``/ready``.

``/ready`` used to ask only whether the database answers a ``SELECT``: a log whose disk is full,
whose lock another process holds, or whose files were deleted still answered 200 while every
request got 503. The writer now reports each commit's outcome here; ``/ready`` answers 503 from a
commit that gave up until one succeeds again. So that a gateway behind a load balancer (which
stops sending requests to it) can become ready again, ``/ready`` then probes the log itself: the
files are still its own, the disk has room, the write lock can be taken.
"""

from __future__ import annotations

import time


class LogHealth:
    def __init__(self) -> None:
        self.writable = True
        self.reason: str | None = None
        self.since = time.time()
        self.permanent = False

    def ok(self) -> None:
        if not self.permanent and not self.writable:
            self.writable, self.reason, self.since = True, None, time.time()

    def failed(self, reason: str) -> None:
        if self.writable:
            self.writable, self.since = False, time.time()
        if not self.permanent:
            self.reason = reason

    def broken(self, reason: str) -> None:
        """A fault only a restart clears (the log's files changed under it)."""
        self.failed(reason)
        self.permanent = True
        self.reason = reason
