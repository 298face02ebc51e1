"""A webhook target is parsed once and refused where it is written; an attempt that raises is a failure
with backoff; the SSRF guard sees the IPv4 address inside every IPv6 form that embeds one.

From the repro: ``target = "http://[::1/hook"`` passed ``gateway check``, then every attempt raised
``httpx.InvalidURL`` about 280 times a second with no attempt recorded; through the API the same
kind of target answered 500; NAT64, 6to4 and IPv4-compatible addresses of 127.0.0.1 were public.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import ADMIN, STDOUT, assert_json_error, config, webhook_sink
from tests.support.receiver import Receiver
from tests.support.server import RunningGateway, builtin_plugins

pytestmark = pytest.mark.timeout(120)

BAD_TARGETS = ["http://[::1/hook", "http://[zz]/", "http://xn--/", "http://①②⑦.0.0.1/", "http://a..b/hook",
               "http://example.com:99999/"]
# 127.0.0.1 (and 10.0.0.1) inside IPv6: NAT64 (well-known and local-use prefixes), 6to4, IPv4-compatible,
# IPv4-mapped, IPv4-translated, Teredo (client 127.0.0.1: its bits inverted), ISATAP.
EMBEDDED_LOOPBACK = ["http://[64:ff9b::7f00:1]/", "http://[64:ff9b:1::7f00:1]/", "http://[2002:7f00:1::]/",
                     "http://[::127.0.0.1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:0:7f00:1]/",
                     "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "http://[2001:db8::5efe:a00:1]/"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def gateway_check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "check.toml"
    path.write_text(text)
    env = {"GATEWAY_PLUGINS": builtin_plugins(), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "gateway", "check", "--config", str(path)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, env=env)


@pytest.mark.parametrize("target", BAD_TARGETS)
def test_gateway_check_refuses_a_target_that_does_not_parse(tmp_path: Path, target: str) -> None:
    done = gateway_check(tmp_path, config(webhook_sink(target)))
    assert done.returncode != 0, done.stdout
    assert "sinks[0] ('partner')" in done.stderr and "target" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_the_api_answers_400_naming_target(module_gateway_factory: Any) -> None:
    gw: RunningGateway = module_gateway_factory(config(STDOUT), name="targets")
    for target in BAD_TARGETS:
        r = gw.post("/api/v1/webhooks", json={"name": "typo", "target": target}, headers=ADMIN)
        body = assert_json_error(r, 400)
        assert body["code"] == "invalid_webhook" and "target" in body["message"], (target, body)
    assert gw.get("/api/v1/webhooks", headers=ADMIN).json() == {"results": []}


def test_the_guard_decodes_ipv4_inside_ipv6(module_gateway_factory: Any, receiver: Receiver) -> None:
    gw: RunningGateway = module_gateway_factory(config(STDOUT), name="embedded")
    for target in EMBEDDED_LOOPBACK:
        r = gw.post("/api/v1/webhooks", json={"name": "ssrf", "target": target}, headers=ADMIN)
        body = assert_json_error(r, 400)
        assert body["code"] == "target_not_allowed", (target, body)
    assert gw.get("/api/v1/webhooks", headers=ADMIN).json() == {"results": []}


@pytest.mark.parametrize("token", ["tök€n-from-a-careless-paste", "line\nbreak", "tab\tinside"])
def test_a_token_no_header_can_carry_is_refused_by_name(tmp_path: Path, module_gateway_factory: Any,
                                                        token: str) -> None:
    # From the repro: such a token passed the check, then every attempt raised UnicodeEncodeError.
    done = gateway_check(tmp_path, config(webhook_sink("http://127.0.0.1:9/hook", auth_token=token)))
    assert done.returncode != 0 and "auth_token" in done.stderr and "visible ASCII" in done.stderr, done.stderr
    assert token not in done.stderr and "Traceback" not in done.stderr, done.stderr  # a secret is never echoed
    gw: RunningGateway = module_gateway_factory(config(STDOUT), name="tokens")
    r = gw.post("/api/v1/webhooks", headers=ADMIN, json={"name": "pasted", "target": "http://127.0.0.1:9/hook",
                                                         "auth_token": token, "allow_private_targets": True})
    body = assert_json_error(r, 400)
    assert "auth_token" in body["message"] and token not in r.text, body
