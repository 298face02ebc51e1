"""Pure parts of the webhook sink: signatures, headers, envelopes, secrets, the target guard."""

from __future__ import annotations

import asyncio
import base64
import gzip

import orjson
import pytest
from gateway_plugins.webhook_sink import envelopes
from gateway_plugins.webhook_sink.headers import attempt_headers
from gateway_plugins.webhook_sink.settings import WebhookSettings, mask, masked_settings, new_signing_secret
from gateway_plugins.webhook_sink.targets import TargetRefused, is_public, public_target
from standardwebhooks import Webhook, WebhookVerificationError

EVENTS = [
    {"messageId": "m1", "type": "track", "event": "Order Completed", "userId": "u1",
     "timestamp": "2024-05-01T10:00:00.000Z", "source": {"id": "s", "name": "backend", "dialect": "probe"}},
    {"messageId": "m2", "type": "identify", "userId": "u1", "traits": {"plan": "pro"},
     "timestamp": "2024-05-01T10:00:01.000Z", "source": {"id": "s", "name": "backend", "dialect": "probe"}},
]
RAW = [orjson.dumps(e) for e in EVENTS]
STORED = envelopes.canonical_array(RAW)


def settings(**kw: object) -> WebhookSettings:
    return WebhookSettings.from_mapping("partner", {"target": "http://127.0.0.1:1/hook", **kw})


@pytest.mark.parametrize("count", [0, 1, 2, 3, 1000])
def test_the_canonical_array_is_the_events_as_one_json_array(count: int) -> None:
    events = [{**EVENTS[i % 2], "messageId": f"m{i}"} for i in range(count)]
    assert orjson.loads(envelopes.canonical_array([orjson.dumps(e) for e in events])) == events


def test_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_signing_secret()
    s = settings(signing_secret=secret)
    body, content_type = envelopes.render(STORED, s)
    headers = attempt_headers(s, "batch-1", body, content_type, gzipped=False)
    assert headers["webhook-id"] == "batch-1"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == EVENTS


def test_a_wrong_secret_or_changed_body_does_not_verify() -> None:
    s = settings(signing_secret=new_signing_secret())
    body, content_type = envelopes.render(STORED, s)
    headers = attempt_headers(s, "batch-1", body, content_type, gzipped=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(s.signing_secret or "").verify(body.replace(b"u1", b"u2"), headers)


def test_no_signature_header_without_a_secret() -> None:
    body, content_type = envelopes.render(STORED, settings())
    headers = attempt_headers(settings(), "b", body, content_type, gzipped=False)
    assert "webhook-signature" not in headers
    assert headers["Content-Type"] == "application/json"


def test_token_header_default_and_custom_name() -> None:
    h = attempt_headers(settings(auth_token="tok-123"), "b", b"[]", "application/json", gzipped=False)
    assert h["X-MessageSystems-Webhook-Token"] == "tok-123"
    h = attempt_headers(settings(auth_token="tok-123", auth_header="X-Hook-Key"), "b", b"[]",
                        "application/json", gzipped=False)
    assert h["X-Hook-Key"] == "tok-123"
    assert "X-MessageSystems-Webhook-Token" not in h


def test_basic_auth_header() -> None:
    h = attempt_headers(settings(basic_user="ada", basic_password="s3cret:x"), "b", b"[]",
                        "application/json", gzipped=False)
    assert h["Authorization"] == "Basic " + base64.b64encode(b"ada:s3cret:x").decode()


def test_canonical_envelope_is_the_committed_bytes() -> None:
    body, content_type = envelopes.render(STORED, settings())
    assert body == b"[" + RAW[0] + b"," + RAW[1] + b"]"
    assert orjson.loads(body) == EVENTS
    assert content_type == "application/json"


def test_momentum_envelope_wraps_each_record_by_type() -> None:
    body, content_type = envelopes.render(STORED, settings(envelope="momentum"))
    assert orjson.loads(body) == [{"msys": {"track_event": EVENTS[0]}},
                                  {"msys": {"identify_event": EVENTS[1]}}]
    assert content_type == "application/json"


def test_cloudevents_batch() -> None:
    body, content_type = envelopes.render(STORED, settings(envelope="cloudevents"))
    assert content_type == "application/cloudevents-batch+json"
    first, second = orjson.loads(body)
    assert first == {"specversion": "1.0", "id": "m1", "source": "/sources/backend",
                     "type": "gateway.event.track", "datacontenttype": "application/json",
                     "time": "2024-05-01T10:00:00.000Z", "subject": "Order Completed", "data": EVENTS[0]}
    assert second["type"] == "gateway.event.identify" and "subject" not in second


def test_gzip_signature_covers_the_uncompressed_body() -> None:
    secret = new_signing_secret()
    s = settings(signing_secret=secret, gzip=True)
    body, content_type = envelopes.render(STORED, s)
    headers = attempt_headers(s, "b", body, content_type, gzipped=True)
    sent = envelopes.compress(body)
    assert headers["Content-Encoding"] == "gzip"
    assert Webhook(secret).verify(gzip.decompress(sent), headers) == EVENTS


def test_secrets_are_masked() -> None:
    assert mask("tok-1234567890abcd") == "****abcd"
    assert mask("short") == "****"
    shown = masked_settings({"target": "http://x", "auth_token": "tok-1234567890abcd",
                             "signing_secret": "whsec_AAAAAAAAAAAAAAAAAAAAAAAAwxyz"})
    assert shown == {"target": "http://x", "auth_token": "****abcd", "signing_secret": "****wxyz"}


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "100.64.0.1",
                                     "224.0.0.1"])
def test_private_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize("target", ["http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]/x",
                                    "http://169.254.169.254/latest/meta-data", "http://2130706433/"])
def test_private_targets_are_refused(target: str) -> None:
    with pytest.raises(TargetRefused):
        asyncio.run(public_target(target))


def test_a_public_literal_target_is_pinned_with_its_host_header() -> None:
    pinned = asyncio.run(public_target("https://93.184.216.34:8443/hook?x=1"))
    assert str(pinned.url) == "https://93.184.216.34:8443/hook?x=1"
    assert pinned.headers == {"Host": "93.184.216.34:8443"}
    assert pinned.extensions == {"sni_hostname": "93.184.216.34"}
    pinned = asyncio.run(public_target("http://[2606:4700::1111]/hook"))
    assert pinned.url.host == "2606:4700::1111" and pinned.headers == {"Host": "2606:4700::1111"}
