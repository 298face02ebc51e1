"""``gateway new-dialect NAME``: a ready-to-install dialect plugin package that passes its own tests.

The package has a pyproject with the ``gateway`` entry point, the dialect module, its item schema,
and a golden test through the plugin kit (``gateway.testing``), so a contributor starts from
something that works and changes it step by step (docs/plugins.md walks through it).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from string import Template

from gateway.sources import source_id

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

PYPROJECT = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "gateway-$dash"
version = "0.1.0"
description = "The $name dialect for the event gateway"
requires-python = ">=3.11"
dependencies = ["event-gateway"]

[project.optional-dependencies]
test = ["event-gateway[testing]"]

# The gateway finds the plugin through this entry point, like its built-in ones.
[project.entry-points.gateway]
$name = "gateway_$name"

[tool.setuptools]
packages = ["gateway_$name"]

[tool.setuptools.package-data]
"gateway_$name" = ["*.json", "py.typed"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra --strict-markers"
filterwarnings = ["error"]
'''

MODULE = '''"""The $name dialect: POST /$name/events with one event or an array of them.

The key comes as ``Authorization: Bearer <key>`` or as ``write_key`` in the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any

from gateway import CanonicalEvent, Dialect, DialectRoute, GatewayError, ItemContext, Unpacked, hookimpl

ITEM_SCHEMA: dict[str, Any] = json.loads(files(__name__).joinpath("event.schema.json").read_text("utf-8"))


def unpack(body: Any, route: DialectRoute) -> Unpacked:
    if isinstance(body, list):
        if not body:
            raise GatewayError("the array holds no events", code="empty_batch")
        return Unpacked(body, many=True)
    return Unpacked([body], many=False)


def map_event(item: dict[str, Any], ctx: ItemContext) -> list[CanonicalEvent]:
    event: CanonicalEvent = {"type": "track", "event": item["event"], "userId": item["user_id"],
                             "properties": item.get("properties", {})}
    if "timestamp" in item:
        event["timestamp"] = item["timestamp"]
    return [event]


def credentials(settings: Mapping[str, Any]) -> list[str]:
    return [settings["write_key"]]


DIALECT = Dialect(
    name="$name",
    routes=[DialectRoute("/$name/events", summary="One $name event or an array of them")],
    auth=("bearer", "body_write_key"),
    body_key_fields=("write_key",),
    item_schema=ITEM_SCHEMA,
    source_schema={"properties": {"write_key": {"type": "string", "minLength": 8}}, "required": ["write_key"]},
    unpack=unpack,
    map=map_event,
    credentials=credentials,
    description="The $name dialect (POST /$name/events)",
)


@hookimpl
def register_dialects(register: Callable[[Dialect], None]) -> None:
    register(DIALECT)
'''

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["event", "user_id"],
    "properties": {
        "event": {"type": "string", "minLength": 1},
        "user_id": {"type": "string", "minLength": 1},
        "properties": {"type": "object"},
        "timestamp": {"type": "string"},
    },
}

TEST = '''"""The $name dialect through the gateway's own pipeline (gateway.testing), loaded by its entry point."""

from __future__ import annotations

from collections.abc import Callable

from gateway.testing import Pipeline
from gateway.testing.pytest_plugin import Goldens

SOURCE = {"name": "example", "dialect": "$name", "write_key": "example-write-key"}
EVENT = {"event": "Signed Up", "user_id": "user-1", "properties": {"plan": "pro"}}


def test_an_event_maps_to_its_golden_canonical_event(gateway_pipeline: Callable[..., Pipeline],
                                                     goldens: Goldens) -> None:
    gateway = gateway_pipeline(sources=[SOURCE])
    outcome = gateway.post("/$name/events", json=EVENT, headers={"Authorization": "Bearer example-write-key"})
    assert outcome.status == 200, outcome.answer
    goldens.events("signed_up", outcome.events)


def test_the_key_in_the_body_works_and_is_not_stored(gateway_pipeline: Callable[..., Pipeline]) -> None:
    gateway = gateway_pipeline(sources=[SOURCE])
    outcome = gateway.post("/$name/events", json=[{**EVENT, "write_key": "example-write-key"}])
    assert outcome.status == 200, outcome.answer
    assert "write_key" not in outcome.raw[0]


def test_a_wrong_key_and_an_invalid_event_are_refused(gateway_pipeline: Callable[..., Pipeline]) -> None:
    gateway = gateway_pipeline(sources=[SOURCE])
    assert gateway.post("/$name/events", json=EVENT, headers={"Authorization": "Bearer wrong-key"}).status == 401
    outcome = gateway.post("/$name/events", json={"event": "x"}, headers={"Authorization": "Bearer example-write-key"})
    assert outcome.status == 400 and outcome.answer["detail"]["field"] == "user_id"
    assert outcome.events == [] and outcome.rejections[0]["field"] == "user_id"
'''

README = '''# gateway-$dash

The `$name` dialect for the event gateway. Install it next to the gateway (`pip install -e .`),
then use `dialect = "$name"` in a `[[sources]]` table with a `write_key`.

Test it: `pip install -e '.[test]' && pytest` (`pytest --update-goldens` rewrites the golden files;
review the diff). The guide is the gateway's docs/plugins.md.
'''


def golden(name: str) -> list[dict[str, object]]:
    """The canonical event the generated test expects, in the kit's stable form."""
    from gateway.testing.golden import CLIENT_IP, GENERATED_ID, RECEIVED

    return [{"type": "track", "event": "Signed Up", "userId": "user-1", "properties": {"plan": "pro"},
             "messageId": GENERATED_ID, "receivedAt": RECEIVED, "timestamp": RECEIVED, "context": {"ip": CLIENT_IP},
             "source": {"id": source_id("example"), "name": "example", "dialect": name}}]


def new_dialect(name: str, directory: Path) -> Path:
    """Write the package for dialect ``name`` into ``directory`` (which must not exist) and return it."""
    if not NAME.match(name):
        raise ValueError(f"dialect name {name!r}: use lower-case letters, digits and _, starting with a letter")
    if directory.exists():
        raise ValueError(f"{directory} exists already; choose another --dir")
    values = {"name": name, "dash": name.replace("_", "-")}
    package = directory / f"gateway_{name}"
    (directory / "tests" / "golden").mkdir(parents=True)
    package.mkdir()
    files = {
        directory / "pyproject.toml": Template(PYPROJECT).substitute(values),
        directory / "README.md": Template(README).substitute(values),
        package / "__init__.py": Template(MODULE).substitute(values),
        package / "event.schema.json": json.dumps(SCHEMA, indent=2) + "\n",
        package / "py.typed": "",
        directory / "tests" / "test_dialect.py": Template(TEST).substitute(values),
        directory / "tests" / "golden" / "signed_up.json":
            json.dumps(golden(name), indent=2, ensure_ascii=False, sort_keys=True) + "\n",
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return directory


def cmd_new_dialect(args: argparse.Namespace) -> int:
    directory = Path(args.dir or f"gateway-{args.name.replace('_', '-')}")
    try:
        new_dialect(args.name, directory)
    except ValueError as exc:
        print(f"gateway: {exc}")
        return 2
    print(f"wrote {directory}/: pip install -e '{directory}[test]' and run pytest there")
    return 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("new-dialect", help="write a ready-to-install dialect plugin package")
    parser.add_argument("name", help="the dialect's name (lower-case letters, digits, _)")
    parser.add_argument("--dir", help="where to write it (default: ./gateway-NAME)")
    parser.set_defaults(func=cmd_new_dialect)
