"""``gateway check`` refuses what ``serve`` would fail on, in words; the CLI's defaults and names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.first_hour.support import CONFIG, gateway_cli, write_config

SQLITE_SINK = """
[[sinks]]
name = "db"
type = "sqlite"
url = "{url}"
"""


def check(tmp_path: Path, text: str) -> tuple[int, str, str]:
    write_config(tmp_path, text)
    result = gateway_cli("check", cwd=tmp_path)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize(("url", "says"), [
    ("sqlite:///data/gateway.db", "names no driver and only async drivers work; write sqlite+aiosqlite:///data/gateway.db"),
    ("postgresql://u:hunter2@db/gw", "write postgresql+asyncpg://u:***@db/gw"),
    ("postgresql+psycopg2://u@db/gw", "psycopg2 is not an async driver for postgresql"),
    ("postgresql+psycopg://u@db/gw", "the psycopg driver is not installed; install it with"),
    ("mysql+aiomysql://u@db/gw", "mysql databases are not supported"),
    ("data/gateway.db", "is not a database URL; expected sqlite+aiosqlite:///"),
])
def test_check_refuses_a_storage_url_serve_could_not_open(tmp_path: Path, url: str, says: str) -> None:
    code, out, err = check(tmp_path, CONFIG.replace("sqlite+aiosqlite:///data/gateway.db", url))
    assert code == 2 and out == ""
    assert "config.toml: [storage] url: " in err and says in err, err
    assert "hunter2" not in err and "Traceback" not in err


def test_check_refuses_a_sink_url_without_an_async_driver_in_words(tmp_path: Path) -> None:
    code, _, err = check(tmp_path, CONFIG + SQLITE_SINK.format(url="sqlite:///data/events.db"))
    assert code == 2
    assert "sinks[1] ('db'): url: 'sqlite:///data/events.db' names no driver" in err, err
    assert "^(" not in err  # no regular expression in the message


def test_check_accepts_a_postgresql_url_with_the_installed_driver_and_hides_its_password(tmp_path: Path) -> None:
    text = CONFIG.replace("sqlite+aiosqlite:///data/gateway.db", "postgresql+asyncpg://gw:s3cret@db.example/gw")
    code, out, err = check(tmp_path, text)
    assert code == 0, err
    assert "durable log: postgresql+asyncpg://gw:***@db.example/gw" in out and "s3cret" not in out


@pytest.mark.parametrize(("events", "says"), [
    ('["trak"]', "events[0]: 'trak' is not an event type (did you mean 'track'?)"),
    ('["track", "idnetify:Signed Up"]', "events[1]: 'idnetify:Signed Up' is not an event type"),
])
def test_check_refuses_a_sink_filter_that_would_match_nothing(tmp_path: Path, events: str, says: str) -> None:
    code, _, err = check(tmp_path, CONFIG.replace('events = ["track", "identify"]', f"events = {events}"))
    assert code == 2 and "sinks[0] ('console'): " + says in err, err


def test_a_filter_on_an_event_name_passes(tmp_path: Path) -> None:
    code, out, err = check(tmp_path, CONFIG.replace('events = ["track", "identify"]',
                                                    'events = ["track:Order Completed", "page"]'))
    assert code == 0, err
    assert "sink 'console': type stdout, events track:Order Completed, page" in out


def test_a_webhook_sink_filter_typo_gets_the_same_message(tmp_path: Path) -> None:
    text = CONFIG + ('\n[[sinks]]\nname = "partner"\ntype = "webhook"\ntarget = "https://example.com/h"\n'
                     'events = ["trak"]\n')
    code, _, err = check(tmp_path, text)
    assert code == 2 and "sinks[1] ('partner'): events[0]: 'trak' is not an event type" in err, err


def test_a_bad_name_is_explained_in_words_not_a_regex(tmp_path: Path) -> None:
    code, _, err = check(tmp_path, CONFIG.replace('name = "console"', 'name = "my console"'))
    assert code == 2
    assert "name must be 1 to 64 letters, digits" in err and "[A-Za-z" not in err, err


def test_check_says_how_a_sink_batches_in_words(tmp_path: Path) -> None:
    code, out, _ = check(tmp_path, CONFIG)
    assert code == 0
    assert "batches of up to 1000 events, sent as soon as events arrive" in out and "or 0s" not in out


def test_a_missing_environment_variable_names_the_file_and_table(tmp_path: Path) -> None:
    code, _, err = check(tmp_path, CONFIG.replace('"first-hour-write-key"', '"${FIRST_HOUR_UNSET_KEY}"'))
    assert code == 2
    assert f"{tmp_path / 'config.toml'}: sources[0].write_key: environment variable FIRST_HOUR_UNSET_KEY" in err


def test_every_command_defaults_to_config_toml(tmp_path: Path) -> None:
    write_config(tmp_path)
    for args in (["check"], ["rejections"], ["webhooks", "batches", "--webhook", "nope"]):
        result = gateway_cli(*args, cwd=tmp_path)
        assert "--config" not in result.stderr and "required" not in result.stderr, (args, result.stderr)
        assert result.returncode in (0, 1, 2), result.stderr


def test_unknown_source_names_are_errors(tmp_path: Path) -> None:
    write_config(tmp_path, CONFIG + SQLITE_SINK.format(url="sqlite+aiosqlite:///data/events.db"))
    rejections = gateway_cli("rejections", "--source", "nope", cwd=tmp_path)
    assert rejections.returncode == 2 and "unknown source 'nope'" in rejections.stderr, rejections.stderr
    assert "backend" in rejections.stderr  # the known ones are listed


def test_help_and_check_import_no_database_library(tmp_path: Path) -> None:
    """What keeps ``gateway --help`` and ``check`` fast (timed in bench/): nothing heavy is imported."""
    write_config(tmp_path)
    code = ("import sys\nfrom gateway.cli import main\nmain(['check'])\n"
            "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'httpx', 'starlette', 'hypercorn', 'jsonschema')"
            " if m in sys.modules))")
    result = gateway_cli_python(code, tmp_path)
    assert result.strip().endswith("[]"), result


def gateway_cli_python(code: str, cwd: Path) -> str:
    import os
    import subprocess
    import sys

    from tests.support.server import builtin_plugins

    env = {**os.environ, "GATEWAY_PLUGINS": builtin_plugins()}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout
