"""Start-up through the real ``gateway serve``: bind first, one banner, one line per fixable problem."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.first_hour.support import CONFIG, gateway_cli, write_config
from tests.support.server import RunningGateway, free_port, wait_until


def assert_one_line_failure(result_stderr: str, says: str) -> None:
    assert says in result_stderr, result_stderr
    assert "Traceback" not in result_stderr, result_stderr
    assert "listening on" not in result_stderr, result_stderr


def test_a_port_in_use_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    write_config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = gateway_cli("serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line_failure(result.stderr, f"127.0.0.1:{port} is in use; pass --port or set [server] port")
    assert len([line for line in result.stderr.splitlines() if line.strip()]) <= 3, result.stderr


def test_one_banner_after_the_bind_with_sources_sinks_admin_and_log(tmp_path: Path) -> None:
    gw = RunningGateway(tmp_path, CONFIG).start()
    try:
        wait_until(lambda: "listening on" in gw.stderr())
        err = gw.stderr()
        assert err.count("listening on") == 1 and "Running on" not in err and "hypercorn.error" not in err, err
        for part in (f"gateway listening on http://127.0.0.1:{gw.port}",
                     f"admin: http://127.0.0.1:{gw.port}/admin",
                     "durable log: sqlite+aiosqlite:///data/gateway.db", "http engine: hypercorn",
                     "source 'backend': dialect segment_style, POST /v1/{track,identify,page,screen,group,alias,"
                     "batch,import,t,i,p,s,g,a,b}, /analytics/v1/{",
                     "; GET /pixel/v1/{track,page}",
                     "source 'crm': dialect filum, POST /events",
                     "sink 'console': type stdout, events track, identify, batches of up to 1000 events"):
            assert part in err, err
        assert "first-hour-write-key" not in err and "first-hour-admin-key" not in err
    finally:
        gw.close()


def test_serve_host_and_port_flags_override_the_config(tmp_path: Path) -> None:
    gw = RunningGateway(tmp_path, CONFIG)
    port = free_port()
    gw.start(wait=False, serve_args=("--host", "127.0.0.1", "--port", str(port)))
    try:
        wait_until(lambda: "listening on" in gw.stderr(), timeout=30)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        assert f"listening on http://127.0.0.1:{port}" in gw.stderr()
    finally:
        gw.close()


def test_a_storage_url_serve_cannot_open_stops_it_before_binding(tmp_path: Path) -> None:
    write_config(tmp_path, CONFIG.replace("sqlite+aiosqlite:///", "sqlite:///"))
    result = gateway_cli("serve", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line_failure(result.stderr, "[storage] url: 'sqlite:///data/gateway.db' names no driver")
    assert "write sqlite+aiosqlite:///data/gateway.db" in result.stderr


def test_a_log_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    write_config(tmp_path, CONFIG.replace("///data/gateway.db", "///blocker/gateway.db"))
    (tmp_path / "blocker").write_text("a file where the folder should be")
    result = gateway_cli("serve", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line_failure(result.stderr, "gateway: cannot start:")


@pytest.mark.parametrize("engine", ["hypercorn", "uvicorn"])
def test_a_log_that_fails_while_starting_is_one_line(tmp_path: Path, engine: str) -> None:
    write_config(tmp_path, CONFIG + f'\n[server]\nengine = "{engine}"\n')
    (tmp_path / "data" / "gateway.db").mkdir(parents=True)  # a folder where the database file should be
    result = gateway_cli("serve", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert_one_line_failure(result.stderr, "gateway: cannot start:")


@pytest.mark.parametrize("engine", ["hypercorn", "uvicorn"])
def test_json_log_format(tmp_path: Path, engine: str) -> None:
    import json

    gw = RunningGateway(tmp_path, CONFIG + f'\n[server]\nengine = "{engine}"\n')
    gw.start(serve_args=("--log-format", "json"))
    try:
        gw.post("/v1/track", json={"event": "x", "userId": "u"})  # no key: refused, logged
        wait_until(lambda: "missing_key" in gw.stderr())
    finally:
        gw.close()  # the engine's shutdown lines too must be JSON
    records = [json.loads(line) for line in gw.stderr().splitlines() if line.strip()]
    refused = [r for r in records if r.get("code") == "missing_key"]
    assert refused and refused[0]["route"] == "/v1/track" and refused[0]["status"] == 401
    assert sum("listening on" in r["message"] for r in records) == 1
