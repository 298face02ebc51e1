"""The sender keeps just-stored batch bodies for their first attempt, bounded by bytes as well as count."""

from __future__ import annotations

import logging
from pathlib import Path

from gateway_plugins.webhook_sink.sender import MAX_FRESH_BYTES, Sender
from gateway_plugins.webhook_sink.settings import WebhookSettings

from gateway.retry import RetryPolicy
from gateway.storage.database import Database


def test_big_bodies_are_kept_only_up_to_the_byte_bound(tmp_path: Path) -> None:
    settings = WebhookSettings(name="partner", target="http://127.0.0.1:9/hook", max_in_flight=8)
    database = Database("sqlite+aiosqlite:///gateway.db", base_dir=tmp_path)
    sender = Sender(settings, RetryPolicy.from_settings({}, initial=1.0, maximum=60.0), database,
                    logging.getLogger("test.webhook"))
    big = b"x" * (MAX_FRESH_BYTES // 2 - 1)
    for batch_id in ("a", "b", "c"):
        sender.offer(batch_id, big)
    assert set(sender._fresh) == {"a", "b"}  # count would allow 16; bytes allow two of these
    assert sender._take_fresh("a") == big and sender._take_fresh("a") is None
    sender.offer("d", big)
    assert set(sender._fresh) == {"b", "d"} and sender._fresh_bytes == 2 * len(big)
