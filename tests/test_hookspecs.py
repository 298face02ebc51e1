"""Every hook, exercised through a temporary plugin registered in a fixture; every hook documented."""

from __future__ import annotations

import argparse
import inspect
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway import hookspecs
from gateway.cli import main
from gateway.plugins import Hooks, PluginError, make_plugin_manager
from tests.conftest import BASE_CONFIG, GatewayFactory
from tests.support.server import RunningGateway, wait_until

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
               if hasattr(f, "gateway_spec"))


TEMP_PLUGIN = """
import orjson
from starlette.responses import JSONResponse
from gateway import Dialect, DialectRoute, PluginRoute, SinkType, Unpacked, hookimpl
from gateway.config import load_config


@hookimpl
def register_dialects(register):
    register(Dialect(
        name="temp", routes=[DialectRoute("/temp/event")], auth=("bearer",),
        credentials=lambda s: [s["token"]],
        source_schema={"properties": {"token": {"type": "string"}}, "required": ["token"]},
        item_schema={"type": "object", "required": ["action"]},
        unpack=lambda body, route: Unpacked([body], False),
        map=lambda item, ctx: [{"type": "track", "event": item["action"]}],
    ))


class Memory:
    def __init__(self, path):
        self.path = path

    async def deliver(self, batch):
        with open(self.path, "ab") as out:
            out.write(b"".join(r + b"\\n" for r in batch.raw))


@hookimpl
def register_sinks(register):
    register(SinkType(name="memory", factory=lambda settings, context: Memory(context.config_dir / "memory.jsonl")))


async def hello(request):
    return JSONResponse({"sources": sorted(request.app.state.gateway.sources)})


@hookimpl
def register_routes(register):
    register(PluginRoute("/api/v1/temp-hello", hello))
    register(PluginRoute("/temp-open", hello, admin=False))


@hookimpl
def register_commands(subparsers):
    parser = subparsers.add_parser("temp-count")
    parser.add_argument("--config", default="config.toml")
    parser.set_defaults(func=lambda args: 40 + len(load_config(args.config).sources))


@hookimpl
def transform_event(event, source):
    if event.get("event") == "drop-me":
        return None
    event.setdefault("context", {})["transformedBy"] = source.name
    return event


@hookimpl
async def upgrade_storage(log_database, state_database):
    with open(log_database.path.parent / "upgrades.txt", "a") as out:
        out.write(f"{log_database.path.name} {state_database.path.name}\\n")
"""

CONFIG = BASE_CONFIG + """
[[sources]]
name = "temp-source"
dialect = "temp"
token = "temp-token-123"

[[sinks]]
name = "memory"
type = "memory"
"""
AUTH = {"Authorization": "Bearer temp-token-123"}


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    """The temporary plugin, registered for the test and gone after it."""
    directory = tmp_path / "temp-plugins"
    directory.mkdir()
    (directory / "temp_plugin.py").write_text(TEMP_PLUGIN)
    yield directory
    shutil.rmtree(directory)


@pytest.fixture
def hooks(plugin_dir: Path) -> Hooks:
    return Hooks(make_plugin_manager(plugin_dir))


@pytest.fixture
def gw(plugin_dir: Path, gateway_factory: GatewayFactory) -> RunningGateway:
    return gateway_factory(f'plugins_dir = "{plugin_dir}"\n' + CONFIG)


def memory(gw: RunningGateway) -> list[dict[str, Any]]:
    path = gw.dir / "memory.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_register_dialects(hooks: Hooks, gw: RunningGateway) -> None:
    assert "temp" in hooks.dialects()
    r = gw.post("/temp/event", json={"action": "clicked"}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert gw.post("/temp/event", json={"action": "x"}).status_code == 401


def test_register_sinks(hooks: Hooks, gw: RunningGateway) -> None:
    assert "memory" in hooks.sink_types()
    gw.post("/temp/event", json={"action": "to-memory"}, headers=AUTH)
    wait_until(lambda: memory(gw), message="event in the memory sink")
    assert [e["event"] for e in memory(gw)] == ["to-memory"]


def test_register_routes(gw: RunningGateway) -> None:
    assert gw.get("/api/v1/temp-hello").status_code == 401
    r = gw.get("/api/v1/temp-hello", headers={"Authorization": "Bearer test-admin-key"})
    assert r.json() == {"sources": ["temp-source"]}
    assert gw.get("/temp-open").status_code == 200


def test_register_commands(hooks: Hooks, plugin_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'plugins_dir = "{plugin_dir}"\n' + CONFIG)
    with pytest.raises(SystemExit):
        main(["no-such-command"], hooks=hooks)
    assert main(["temp-count", "--config", str(path)], hooks=hooks) == 41


def test_transform_event(hooks: Hooks, gw: RunningGateway) -> None:
    assert hooks.transformer() is not None
    assert gw.post("/temp/event", json={"action": "drop-me"}, headers=AUTH).status_code == 200
    assert gw.post("/temp/event", json={"action": "keep-me"}, headers=AUTH).status_code == 200
    wait_until(lambda: memory(gw), message="event in the memory sink")
    events = memory(gw)
    assert [e["event"] for e in events] == ["keep-me"]
    assert events[0]["context"]["transformedBy"] == "temp-source"


def test_upgrade_storage(hooks: Hooks, gw: RunningGateway) -> None:
    assert hooks.storage_upgrades()  # this one and any built-in plugin's (the webhook sink has one)
    upgrades = gw.dir / "data" / "upgrades.txt"
    # awaited at start-up by every process (the ingest and the delivery one), with the log and the state
    lines = wait_until(lambda: upgrades.exists() and len(upgrades.read_text().splitlines()) >= 2 and
                       upgrades.read_text().splitlines(), message="both processes upgrading")
    assert set(lines) == {"gateway.db gateway-delivery.db"}


def test_a_misspelt_hook_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "typo.py").write_text("from gateway import hookimpl\n\n@hookimpl\ndef register_dialect(register):\n"
                                      "    pass\n")
    with pytest.raises(Exception, match="register_dialect"):
        make_plugin_manager(tmp_path)


def test_two_plugins_cannot_register_the_same_name(plugin_dir: Path) -> None:
    shutil.copy(plugin_dir / "temp_plugin.py", plugin_dir / "temp_again.py")
    with pytest.raises(PluginError, match="two plugins register a dialect named 'temp'"):
        Hooks(make_plugin_manager(plugin_dir)).dialects()


def test_every_hook_has_a_section_in_the_plugin_guide() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    documented = re.findall(r"^## `(\w+)`$", guide, re.M)
    assert HOOKS, "no hook specs found"
    missing = [h for h in HOOKS if h not in documented]
    assert not missing, f"hooks without a section in docs/plugins.md: {missing}"
    for hook in HOOKS:
        section = guide.split(f"## `{hook}`", 1)[1].split("\n## ", 1)[0]
        for part in ("**Parameters.**", "**Returns.**", "**Example.**", "@hookimpl", f"def {hook}("):
            assert part in section, f"{hook}: the guide's section lacks {part}"


def test_every_hook_has_a_test_here() -> None:
    source = Path(__file__).read_text()
    for hook in HOOKS:
        assert f"def test_{hook}(" in source, f"no test_{hook} in {__file__}"


def test_argparse_type_is_what_the_spec_says() -> None:
    assert isinstance(argparse.ArgumentParser().add_subparsers(), argparse._SubParsersAction)


def test_every_dialect_field_is_documented_with_its_default_in_the_plugin_guide() -> None:
    import dataclasses
    import re

    from gateway import Dialect

    guide = (ROOT / "docs" / "plugins.md").read_text()
    rows = {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)(?:\([^`]*\))?` \| [^|]+ \| [^|]+ \|$", guide, re.M)}
    missing = [f.name for f in dataclasses.fields(Dialect) if f.name not in rows]
    assert not missing, f"Dialect fields without a row (field | default | meaning) in docs/plugins.md: {missing}"


def test_plugins_import_only_the_public_surface() -> None:
    """Everything a built-in plugin needs comes from ``gateway`` (a third-party one has nothing else)."""
    import re

    private = re.compile(r"^\s*from gateway\.(storage|config|body|ingest|enrich|validation)\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "plugins").rglob("*.py") if private.search(p.read_text())]
    assert not offenders, f"plugins importing the core's internals: {offenders}"


def _dialect_packages() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "plugins").glob("*/__init__.py")
                  if any("def register_dialects" in f.read_text() for f in p.parent.rglob("*.py")))


def _core_modules_imported(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
        found.update(n for n in names if n.startswith("gateway."))
    return found


def test_built_in_dialect_tests_need_only_the_public_surface_and_the_kit() -> None:
    """A dialect's own tests use ``gateway`` and ``gateway.testing`` only: what a third-party dialect has."""
    dialects = _dialect_packages()
    assert {"segment_style", "filum", "usermaven", "posthog"} <= set(dialects), dialects
    offenders = {}
    for name in dialects:
        for path in sorted((ROOT / "tests" / name).rglob("*.py")):
            private = sorted(m for m in _core_modules_imported(path)
                             if m != "gateway.testing" and not m.startswith("gateway.testing."))
            if private:
                offenders[str(path.relative_to(ROOT))] = private
    assert not offenders, f"tests of built-in dialects importing the core's internals: {offenders}"


def test_the_import_check_sees_every_form_of_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import gateway.enrich\nfrom gateway import InvalidEvent\nfrom gateway.testing import Pipeline\n"
                     "def f():\n    from gateway.validation import CompiledSchema\n"
                     "    import gateway.storage.log as log\nfrom . import gateway\n")
    assert _core_modules_imported(probe) == {"gateway.enrich", "gateway.testing", "gateway.validation",
                                             "gateway.storage.log"}
