"""Every request example of seeds 000 (DIDWW messaging) and 001 (RudderStack HTTP source), as sent.

Bodies are the seeds' JSON text unchanged but for the write key, which becomes ``WRITE_KEY``
(DIDWW puts it in the body; RudderStack's ``curl -u KEY:`` sends it as HTTP Basic). Several
examples are the same event written differently, so they share one golden file.
"""

from __future__ import annotations

from dataclasses import dataclass

WRITE_KEY = "wk_segment_test"
_DIDWW_KEYS = ("a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y", "YOUR_API_KEY")


@dataclass(frozen=True)
class Example:
    name: str
    golden: str
    path: str
    auth: str  # "body" (writeKey in the JSON) or "basic"
    body: str

    def text(self) -> str:
        text = self.body
        for key in _DIDWW_KEYS:
            text = text.replace(key, WRITE_KEY)
        return text


def _didww(name: str, golden: str, kind: str, body: str) -> Example:
    return Example(name, golden, f"/analytics/v1/{kind}", "body", body)


DIDWW = [
    # The walk-through's cURL, Postman and Python requests examples all send this body.
    _didww("didww_walkthrough", "didww_track", "track",
           '{ "writeKey": "YOUR_API_KEY", "userId": "john.snow@example.com", "type": "track", '
           '"event": "signed_up", "properties": { "name": "John Snow" } }'),
    _didww("didww_track_http", "didww_track", "track",
           '{ "writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y", "userId": "john.snow@example.com", '
           '"type": "track", "event": "signed_up", "properties": { "name": "John Snow" } }'),
    _didww("didww_track_curl", "didww_track", "track",
           '{"event": "signed_up", "properties": {"name": "John Snow"}, "type": "track", '
           '"userId": "john.snow@example.com", "writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y"}'),
    _didww("didww_page_http", "didww_page", "page",
           '{ "writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y", "userId": "john.snow@example.com", '
           '"type": "page", "name": "Product Page", '
           '"properties": { "url": "https://example.com/product/12345" } }'),
    _didww("didww_page_curl", "didww_page", "page",
           '{"name": "Product Page", "properties": {"url": "https://example.com/product/12345"}, '
           '"type": "page", "userId": "john.snow@example.com", '
           '"writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y"}'),
    _didww("didww_identify_http", "didww_identify", "identify",
           '{ "writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y", "userId": "john.snow@example.com", '
           '"type": "identify", "traits": { "name": "John Snow", "email": "john.snow@example.com" } }'),
    _didww("didww_identify_curl", "didww_identify", "identify",
           '{"traits": {"email": "john.snow@example.com", "name": "John Snow"}, "type": "identify", '
           '"userId": "john.snow@example.com", "writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y"}'),
    _didww("didww_screen_http", "didww_screen", "screen",
           '{ "writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y", "userId": "john.snow@example.com", '
           '"type": "screen", "name": "Home Screen", "properties": { "device": "iPhone 16" } }'),
    _didww("didww_screen_curl", "didww_screen", "screen",
           '{"name": "Home Screen", "properties": {"device": "iPhone 16"}, "type": "screen", '
           '"userId": "john.snow@example.com", "writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y"}'),
    _didww("didww_alias_http", "didww_alias", "alias",
           '{ "writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y", "userId": "john.snow@example.com", '
           '"type": "alias", "previousId": "anon12345" }'),
    _didww("didww_alias_curl", "didww_alias", "alias",
           '{"previousId": "anon12345", "type": "alias", "userId": "john.snow@example.com", '
           '"writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y"}'),
    _didww("didww_group_http", "didww_group", "group",
           '{ "writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y", "userId": "john.snow@example.com", '
           '"type": "group", "groupId": "company12345", "traits": { "name": "Example Corp", '
           '"industry": "Technology" } }'),
    _didww("didww_group_curl", "didww_group", "group",
           '{"groupId": "company12345", "traits": {"industry": "Technology", "name": "Example Corp"}, '
           '"type": "group", "userId": "john.snow@example.com", '
           '"writeKey": "a7BcG9tD3Xw0lNk1JqZ5YpQ9A2V8uF3Y"}'),
]

RUDDERSTACK = [
    Example("rudderstack_track", "rudderstack_track", "/v1/track", "basic", """{
    "event": "Product Purchased",
    "userId": "user123",
    "properties": {
      "productId": "prod-456",
      "price": 29.99,
      "currency": "USD"
    }
  }"""),
    Example("rudderstack_identify", "rudderstack_identify", "/v1/identify", "basic", """{
    "userId": "user123",
    "traits": {
      "email": "user@example.com",
      "name": "John Doe",
      "plan": "premium"
    }
  }"""),
    Example("rudderstack_batch", "rudderstack_batch", "/v1/batch", "basic", """{
    "batch": [
      {
        "type": "track",
        "event": "Product Purchased",
        "userId": "user123",
        "properties": {
          "productId": "prod-456"
        }
      },
      {
        "type": "identify",
        "userId": "user123",
        "traits": {
          "email": "user@example.com"
        }
      }
    ]
  }"""),
]

EXAMPLES = DIDWW + RUDDERSTACK
