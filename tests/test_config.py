"""config.toml: loading, ${VAR}, and one clear message for each kind of bad config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from tests.conftest import BASE_CONFIG, PROBE_CONFIG
from tests.support.server import TEST_PLUGINS_DIR

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ=environ or {})
    return str(info.value)


def test_probe_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, PROBE_CONFIG), environ={})
    assert [s.name for s in config.sources] == ["probe"]
    assert config.sources[0].max_event_bytes == 2048  # the dialect's default
    assert config.sinks[0].settings["batch_max_events"] == 1000
    assert config.plugins_dir == TEST_PLUGINS_DIR


def test_env_variables_and_defaults(tmp_path: Path) -> None:
    text = PROBE_CONFIG.replace('"test-admin-key"', '"${ADMIN:-fallback}"').replace(
        '"probe-write-key"', '"${PROBE_KEY}"')
    config = load_config(write(tmp_path, text), environ={"PROBE_KEY": "from-the-environment"})
    assert config.admin_key == "fallback"
    assert config.sources[0].settings["write_key"] == "from-the-environment"


def test_unset_variable_names_it(tmp_path: Path) -> None:
    text = PROBE_CONFIG.replace('"probe-write-key"', '"${PROBE_KEY}"')
    message = error_of(tmp_path, text)
    assert "PROBE_KEY" in message and "sources[0].write_key" in message


@pytest.mark.parametrize(("change", "expected"), [
    (("[storage]", "[storage]\nbogus = 1"), ["[storage]", "unknown key bogus"]),
    (('dialect = "probe"', 'dialect = "nope"'), ["sources[0]", "unknown dialect 'nope'", "available:", "probe"]),
    (('type = "stdout"', 'type = "kinesis"'), ["sinks[0]", "unknown sink type 'kinesis'", "stdout"]),
    (('write_key = "probe-write-key"', "write_key = 12345678"), ["sources[0] ('probe')", "write_key",
                                                                  "must be a string"]),
    (('write_key = "probe-write-key"', 'write_key = "short"'), ["sources[0]", "write_key"]),
    (('write_key = "probe-write-key"', ""), ["sources[0]", "write_key is required"]),
    (('type = "stdout"', 'type = "stdout"\nbatch_max_events = 0'), ["sinks[0] ('console')", "batch_max_events"]),
    (('type = "stdout"', 'type = "stdout"\nstart = "yesterday"'), ["sinks[0]", "start", "'beginning', 'now'"]),
    (('api_key = "test-admin-key"', 'api_key = "k"\nport = 1'), ["[admin]", "unknown key port"]),
    (("[storage]", '[server]\nengine = "granian"\n\n[storage]'), ["[server]", "engine", "'hypercorn', 'uvicorn'"]),
])
def test_bad_config_messages(tmp_path: Path, change: tuple[str, str], expected: list[str]) -> None:
    message = error_of(tmp_path, PROBE_CONFIG.replace(*change, 1))
    assert str(tmp_path / "config.toml") in message
    for part in expected:
        assert part in message, message


def test_duplicate_source_name_and_key(tmp_path: Path) -> None:
    second = '\n[[sources]]\nname = "probe"\ndialect = "probe"\nwrite_key = "another-key-1"\n'
    assert "name 'probe' is already used by sources[0]" in error_of(tmp_path, PROBE_CONFIG + second)
    same_key = '\n[[sources]]\nname = "other"\ndialect = "probe"\nwrite_key = "probe-write-key"\n'
    message = error_of(tmp_path, PROBE_CONFIG + same_key)
    assert "sources[1] ('other')" in message and "already used by source 'probe'" in message
    assert "probe-write-key" not in message  # keys never appear in messages


def test_duplicate_sink_name(tmp_path: Path) -> None:
    extra = '\n[[sinks]]\nname = "console"\ntype = "stdout"\n'
    assert "sinks[1]: name 'console' is used by another sink" in error_of(tmp_path, PROBE_CONFIG + extra)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid TOML" in error_of(tmp_path, "[server\nport = 1")
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_bad_server_port(tmp_path: Path) -> None:
    message = error_of(tmp_path, BASE_CONFIG + '\n[server]\nport = "eighty"\n')
    assert "[server]" in message and "port must be an integer" in message


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def test_check_repo_config() -> None:
    result = run_cli("check", "--config", str(ROOT / "config.toml"))
    assert result.returncode == 0, result.stderr
    for part in ("source 'backend': dialect segment_style", "source 'crm': dialect filum",
                 "source 'site': dialect usermaven", "sink 'console': type stdout", "ok"):
        assert part in result.stdout


def test_check_bad_config_exits_non_zero(tmp_path: Path) -> None:
    path = write(tmp_path, PROBE_CONFIG.replace('dialect = "probe"', 'dialect = "nope"'))
    result = run_cli("check", "--config", str(path))
    assert result.returncode != 0
    assert "unknown dialect 'nope'" in result.stderr and "sources[0]" in result.stderr
    assert "Traceback" not in result.stderr
