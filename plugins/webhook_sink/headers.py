"""The headers of one attempt: content, the shared token or Basic auth, and the signature.

Signatures follow the Standard Webhooks scheme, so a receiver can verify them with any of its
libraries: ``webhook-signature`` is ``v1,`` + base64(HMAC-SHA256(key, "id.timestamp.body"))
where the key is the base64 part of the ``whsec_`` secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .settings import WebhookSettings

USER_AGENT = "event-gateway-webhooks/1"


def secret_key(signing_secret: str) -> bytes:
    encoded = signing_secret.removeprefix("whsec_")
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def signature(signing_secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(secret_key(signing_secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def attempt_headers(settings: WebhookSettings, batch_id: str, body: bytes, content_type: str,
                    *, gzipped: bool, now: float | None = None) -> dict[str, str]:
    """``body`` is the uncompressed body: the signature covers what the receiver gets after
    undoing ``Content-Encoding``, so verification works whether or not its server decompresses."""
    timestamp = int(now if now is not None else time.time())
    headers = {
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        # Sent even unsigned: the batch id lets a receiver drop a retry it already processed.
        "webhook-id": batch_id,
        "webhook-timestamp": str(timestamp),
    }
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    if settings.auth_token:
        headers[settings.auth_header] = settings.auth_token
    if settings.basic_user is not None or settings.basic_password is not None:
        pair = f"{settings.basic_user or ''}:{settings.basic_password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    if settings.signing_secret:
        headers["webhook-signature"] = signature(settings.signing_secret, batch_id, timestamp, body)
    return headers
