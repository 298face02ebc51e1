"""Keys with stray whitespace are refused by ``gateway check`` naming the key; the admin key follows one rule.

From the repro: a write key read from an environment variable ending in a newline passed
``gateway check`` and could never match (presented keys arrive without it); ``Authorization: KEY``
was accepted by the admin API while the README said Bearer only. The rule now, written in the README
and gateway/admin/README.md: ``Bearer <key>`` or the key alone (Momentum's API clients send it bare);
any other scheme is refused with 401 saying the rule.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import STDOUT, assert_json_error, config, webhook_sink
from tests.support.server import builtin_plugins

pytestmark = pytest.mark.timeout(120)


def gateway_check(tmp_path: Path, text: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "check.toml"
    path.write_text(text)
    return subprocess.run([sys.executable, "-m", "gateway", "check", "--config", str(path)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path,
                          env={"GATEWAY_PLUGINS": builtin_plugins(), "PATH": "/usr/bin:/bin", **env})


SOURCE = """
[[sources]]
name = "backend"
dialect = "segment_style"
write_key = "${WRITE_KEY}"

[[sources]]
name = "site"
dialect = "usermaven"
api_key = "UMhygiene01"
server_token = "${SERVER_TOKEN}"
"""


@pytest.mark.parametrize(("env", "where", "key"), [
    ({"WRITE_KEY": "seg-key-from-env\n"}, "sources[0] ('backend')", "write_key"),
    ({"WRITE_KEY": " seg-key-from-env"}, "sources[0] ('backend')", "write_key"),
    ({"SERVER_TOKEN": "sec_token_from_env\t"}, "sources[1] ('site')", "server_token"),
    ({"ADMIN_KEY": "admin-key-from-env\n"}, "[admin]", "api_key"),
])
def test_gateway_check_refuses_padded_keys_naming_them(tmp_path: Path, env: dict[str, str], where: str,
                                                       key: str) -> None:
    env = {"WRITE_KEY": "seg-key-from-env", "SERVER_TOKEN": "sec_token_from_env", "ADMIN_KEY": "admin-key", **env}
    text = config(STDOUT, sources=SOURCE).replace('api_key = "test-admin-key"', 'api_key = "${ADMIN_KEY}"')
    done = gateway_check(tmp_path, text, env)
    assert done.returncode != 0, done.stdout
    assert where in done.stderr and key in done.stderr and "whitespace" in done.stderr, done.stderr
    assert "from-env" not in done.stderr and "from_env" not in done.stderr, "the key itself was echoed"


def test_a_padded_sink_secret_is_refused_too(tmp_path: Path) -> None:
    text = config(webhook_sink("https://example.com/hook", auth_token="partner-token\n"))
    done = gateway_check(tmp_path, text, {})
    assert done.returncode != 0 and "auth_token" in done.stderr and "whitespace" in done.stderr, done.stderr


def test_the_admin_key_has_one_rule(module_gateway_factory: Any) -> None:
    gw = module_gateway_factory(config(STDOUT), name="adminrule")
    assert gw.get("/api/v1/sources", headers={"Authorization": "Bearer test-admin-key"}).status_code == 200
    assert gw.get("/api/v1/sources", headers={"Authorization": "bearer  test-admin-key"}).status_code == 200
    assert gw.get("/api/v1/sources", headers={"Authorization": "test-admin-key"}).status_code == 200
    for header in ("Basic " + base64.b64encode(b"test-admin-key:").decode(), "Token test-admin-key",
                   "test-admin-key extra"):
        body = assert_json_error(gw.get("/api/v1/sources", headers={"Authorization": header}), 401)
        assert body["code"] == "unsupported_scheme" and "Bearer" in body["message"], (header, body)
    body = assert_json_error(gw.get("/api/v1/sources", headers={"Authorization": "Bearer"}), 401)
    assert body["code"] == "missing_key"
