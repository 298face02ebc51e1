"""``gateway events``: the real command line, on the file a running gateway's sqlite sink writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.cli import build_parser
from tests.support.server import RunningGateway, wait_until

from .support import GATEWAY_CONFIG, count_rows, sqlite_sink_table

WEB = ("wk_web", "")
BACKEND = ("wk_backend", "")
# Posted in this order; ids cmd-1 .. cmd-8.
BACKEND_EVENTS: list[dict[str, Any]] = [
    {"type": "track", "event": "Order Completed", "userId": "u1"},
    {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
    {"type": "track", "event": "Signed Up", "anonymousId": "a9"},
    {"type": "page", "name": "Pricing", "userId": "u2"},
]
WEB_EVENTS: list[dict[str, Any]] = [
    {"type": "track", "event": "Order Completed", "userId": "u2"},
    {"type": "alias", "previousId": "a9", "userId": "u3"},
    {"type": "group", "groupId": "g1", "userId": "u1"},
    {"type": "screen", "name": "Home", "anonymousId": "u1"},
]


def gateway(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in its own process, exactly as a self-hoster runs it."""
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """The same command line in this process (the real parser, plugins and command; a second
    faster than a new interpreter): ``cli(*args) -> (exit code, stdout, stderr)``."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            parsed = build_parser().parse_args(["events", *args])
            code = int(parsed.func(parsed))
        except SystemExit as exc:  # argparse's answer to bad arguments
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def gw(module_gateway_factory: Any) -> RunningGateway:
    gw: RunningGateway = module_gateway_factory(GATEWAY_CONFIG + sqlite_sink_table())
    numbered = [{**e, "messageId": f"cmd-{i}"} for i, e in enumerate(BACKEND_EVENTS + WEB_EVENTS, start=1)]
    for auth, items in ((BACKEND, numbered[:4]), (WEB, numbered[4:])):
        r = gw.post("/v1/batch", json={"batch": items}, auth=auth)
        assert r.status_code == 200, r.text
    wait_until(lambda: count_rows(gw.dir / "data" / "events.db") == 8, timeout=20, message="8 rows")
    return gw


def ids(cli: Callable[..., tuple[int, str, str]], gw: RunningGateway, *args: str) -> list[str]:
    code, out, err = cli("--config", str(gw.config_path), "--json", *args)
    assert code == 0, err
    return [orjson.loads(line)["messageId"] for line in out.splitlines()]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), [8, 7, 6, 5, 4, 3, 2, 1]),
        (("--limit", "2"), [8, 7]),
        (("--source", "web"), [8, 7, 6, 5]),
        (("--type", "track"), [5, 3, 1]),
        (("--event", "Order Completed"), [5, 1]),
        (("--user", "u1"), [8, 7, 2, 1]),  # the user id or the anonymous id
        (("--user", "a9"), [3]),
        (("--source", "backend", "--type", "track", "--limit", "1"), [3]),
        (("--source", "backend", "--type", "alias"), []),
    ],
)
def test_filters_newest_first(cli: Any, gw: RunningGateway, args: tuple[str, ...],
                              expected: list[int]) -> None:
    assert ids(cli, gw, *args) == [f"cmd-{i}" for i in expected]


def test_json_lines_are_the_events_as_delivered(gw: RunningGateway) -> None:
    done = gateway("events", "--config", str(gw.config_path), "--json", "--limit", "100", cwd=gw.dir)
    assert done.returncode == 0, done.stderr
    printed = gw.wait_for_stdout_events(8)  # what the stdout sink wrote, as committed
    assert [orjson.loads(line) for line in done.stdout.splitlines()] == printed[::-1]


def test_the_default_is_a_readable_table(gw: RunningGateway) -> None:
    # relative --config, from the config's folder: the default is ./config.toml
    done = gateway("events", "--limit", "3", cwd=gw.dir)
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split() == ["RECEIVED", "AT", "TYPE", "EVENT", "USER", "SOURCE", "MESSAGE", "ID"]
    assert [line.split()[2:] for line in lines] == [
        ["screen", "Home", "u1", "web", "cmd-8"],
        ["group", "g1", "u1", "web", "cmd-7"],
        ["alias", "a9", "u3", "web", "cmd-6"],
    ]
    # columns line up under their headers
    assert all(line.index("cmd-") == header.index("MESSAGE ID") for line in lines)


def test_no_match_says_so(cli: Any, gw: RunningGateway) -> None:
    assert cli("--config", str(gw.config_path), "--user", "nobody") == (0, "No events.\n", "")
    assert cli("--config", str(gw.config_path), "--user", "nobody", "--json") == (0, "", "")


def write_config(tmp_path: Path, sinks: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(GATEWAY_CONFIG + sinks)
    return path


@pytest.mark.parametrize(
    ("sinks", "args", "status", "message"),
    [
        ("", (), 2, "has no sink of type 'sqlite'"),
        (sqlite_sink_table("a") + sqlite_sink_table("b", "sqlite+aiosqlite:///b.db"), (), 2,
         "several sqlite sinks (a, b): pick one with --sink"),
        (sqlite_sink_table("a"), ("--sink", "console"), 2, "no sqlite sink named 'console'; it has: a"),
        (sqlite_sink_table("a"), (), 1, "events.db does not exist yet: start the gateway with this sink"),
        (sqlite_sink_table("a"), ("--limit", "0"), 2, "--limit: must be 1 or more"),
        (sqlite_sink_table("a"), ("--type", "click"), 2, "--type: invalid choice: 'click'"),
    ],
)
def test_clear_errors(cli: Any, tmp_path: Path, sinks: str, args: tuple[str, ...], status: int,
                      message: str) -> None:
    config = write_config(tmp_path, sinks)
    code, out, err = cli("--config", str(config), *args)
    assert (code, out) == (status, "")
    assert message in err
    assert not (tmp_path / "data" / "events.db").exists()  # looking never creates the database


def test_errors_go_to_stderr_with_an_exit_code(tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_sink_table("a") + sqlite_sink_table("b", "sqlite+aiosqlite:///b.db"))
    done = gateway("events", "--config", str(config), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert "gateway events: " in done.stderr and "pick one with --sink" in done.stderr


def test_a_bad_config_is_reported(cli: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, '\n[[sinks]]\nname = "x"\ntype = "sqlite"\nurl = "mysql://db"\n')
    code, _, err = cli("--config", str(config))
    assert code == 2
    assert "sinks[1] ('x')" in err and "url" in err


def test_a_database_of_a_newer_gateway_is_refused(cli: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_sink_table())
    (tmp_path / "data").mkdir()
    conn = sqlite3.connect(tmp_path / "data" / "events.db")
    conn.execute("CREATE TABLE events_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
    conn.execute("INSERT INTO events_schema_version VALUES (99, '2030-01-01')")
    conn.commit()
    conn.close()
    code, _, err = cli("--config", str(config))
    assert code == 1
    assert "schema version 99, newer than this gateway's" in err
