"""The plugin kit (gateway.testing) and what it gives a dialect: checked declarations, key places, decoders."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway import ConfigError, Dialect, DialectRoute, ItemContext, Unpacked, hookimpl
from gateway.plugins import PluginError
from gateway.scaffold import new_dialect
from gateway.testing import Pipeline, SchemaCheck, assert_golden, check_source, load_plugins, stable
from gateway.testing import golden as golden_module

ROOT = Path(__file__).resolve().parents[1]
SEEN: list[dict[str, Any]] = []


def _unpack(body: Any, route: DialectRoute) -> Unpacked:
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return Unpacked(body["items"], True, "items")
    return Unpacked([body], False)


def _map(item: dict[str, Any], ctx: ItemContext) -> list[dict[str, Any]]:
    SEEN.append(dict(ctx.batch))
    return [{"type": "track", "event": item["e"], "userId": "u", "properties": item.get("p", {})}]


KIT_DIALECT = Dialect(
    name="kit", routes=[DialectRoute("/kit"), DialectRoute("/kit/beacon", query_key_params=("writeKey",))],
    auth=("header", "query_token", "body_write_key"), key_header="X-Kit-Key", query_key_params=("key", "k"),
    body_key_fields=("auth", "meta.key", "items.meta.key"), body_decoders=("form_data", "json"),
    item_schema={"type": "object", "required": ["e"]}, unpack=_unpack, map=_map,
    credentials=lambda s: [s["secret"]],
    source_schema={"properties": {"secret": {"type": "string"}}, "required": ["secret"]})


class KitPlugin:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    @hookimpl
    def register_dialects(self, register: Callable[[Dialect], None]) -> None:
        register(self.dialect)


SECRET = "kit-secret-0123456789"


@pytest.fixture(scope="module")
def kit() -> Any:
    with Pipeline(sources=[{"name": "k", "dialect": "kit", "secret": SECRET}], plugins=[KitPlugin(KIT_DIALECT)]) as p:
        yield p


@pytest.mark.parametrize(("path", "kwargs"), [
    ("/kit", {"headers": {"X-Kit-Key": SECRET}}),
    ("/kit?k=" + SECRET, {}),
    ("/kit?key=" + SECRET, {}),
    ("/kit/beacon?writeKey=" + SECRET, {}),
])
def test_a_key_in_a_named_header_or_query_parameter(kit: Pipeline, path: str, kwargs: dict[str, Any]) -> None:
    outcome = kit.post(path, json={"e": "x"}, **kwargs)
    assert outcome.status == 200, outcome.answer
    assert outcome.events[0]["source"]["name"] == "k"


def test_a_route_reads_only_its_own_query_parameter(kit: Pipeline) -> None:
    # /kit/beacon names writeKey; the dialect's "key" is not read there.
    outcome = kit.post("/kit/beacon?key=" + SECRET, json={"e": "x"})
    assert (outcome.status, outcome.answer["code"]) == (401, "missing_key")
    assert "writeKey query parameter" in outcome.answer["message"] and SECRET not in json.dumps(outcome.answer)


def test_nested_body_keys_are_read_stripped_and_must_agree(kit: Pipeline) -> None:
    body = {"meta": {"key": SECRET, "keep": 1}, "items": [{"e": "a", "meta": {"key": SECRET}}, {"e": "b"}]}
    outcome = kit.post("/kit", json=body)
    assert outcome.status == 200, outcome.answer
    assert outcome.raw == [{"e": "a", "meta": {}}, {"e": "b"}]
    assert SECRET not in json.dumps(outcome.events)
    # The batch-level fields the mapping saw: the body's other top-level fields, key removed.
    assert SEEN[-1] == {"meta": {"keep": 1}}
    disagree = {"auth": SECRET, "items": [{"e": "a", "meta": {"key": "another-key"}}]}
    assert kit.post("/kit", json=disagree).status == 401
    # A header key still has the body's copies removed, so none is stored.
    outcome = kit.post("/kit", json={"auth": SECRET, "e": "c"}, headers={"X-Kit-Key": SECRET})
    assert outcome.status == 200 and outcome.raw == [{"e": "c"}]


def test_a_wrong_header_key_is_refused_without_reading_the_body(kit: Pipeline) -> None:
    outcome = kit.post("/kit", content=b"{not json", headers={"X-Kit-Key": "wrong-key-0000"})
    assert (outcome.status, outcome.answer["code"]) == (401, "invalid_key")


def test_form_data_decoder_with_json_and_base64(kit: Pipeline) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    plain = kit.post("/kit", content=b'data={"e":"f","auth":"' + SECRET.encode() + b'"}', headers=form)
    assert plain.status == 200, plain.answer
    import base64
    encoded = base64.urlsafe_b64encode(json.dumps({"e": "g", "auth": SECRET}).encode()).rstrip(b"=")
    assert kit.post("/kit", content=b"data=" + encoded, headers=form).status == 200


def test_a_dialect_without_json_refuses_other_content_types() -> None:
    only_form = dataclasses.replace(KIT_DIALECT, body_decoders=("form_data",))
    with Pipeline(sources=[{"name": "k", "dialect": "kit", "secret": SECRET}],
                  plugins=[KitPlugin(only_form)]) as p:
        outcome = p.post("/kit", json={"e": "x"}, headers={"X-Kit-Key": SECRET})
    assert (outcome.status, outcome.answer["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize(("change", "message"), [
    ({"body_key_fields": ()}, "body_key_fields is empty"),
    ({"auth": ("header",), "key_header": None, "body_key_fields": ()}, "key_header is not set"),
    ({"auth": ("basic", "cookie")}, "unknown style(s) cookie"),
    ({"auth": ("basic",)}, "body_key_fields is set but auth lacks body_write_key"),
    ({"secret_fields": ("token",)}, "secret_fields names 'token', which source_schema does not describe"),
    ({"source_schema": {}}, "no secret fields"),
    ({"source_schema": {"properties": {"secret": {"type": "string"}, "id": {"type": "integer"}},
                        "required": ["secret", "id"]}}, "give generate_credentials"),
    ({"body_decoders": ("xml",)}, "unknown decoder(s) xml"),
    ({"routes": [DialectRoute("kit")]}, "must start with /"),
])
def test_an_inconsistent_dialect_is_refused_at_registration(change: dict[str, Any], message: str) -> None:
    bad = dataclasses.replace(KIT_DIALECT, **change)
    with pytest.raises(PluginError, match="dialect 'kit' is declared inconsistently") as caught:
        load_plugins([KitPlugin(bad)]).dialects()
    assert message in str(caught.value)


def test_schema_check_names_what_the_pipeline_names(kit: Pipeline) -> None:
    check = SchemaCheck(KIT_DIALECT.item_schema)
    assert check.problem({"e": "fine"}) is None
    outcome = kit.post("/kit", json={"items": [{"e": "a"}, {"x": 1}, "text"]}, headers={"X-Kit-Key": SECRET})
    assert outcome.status == 200 and len(outcome.events) == 1, outcome.answer
    from_pipeline = [(r["field"], r["reason"]) for r in outcome.rejections]
    assert from_pipeline == [("items[1].e", "e is required"), ("items[2]", "the event must be an object, not string")]
    assert check.problem({"x": 1}) == ("e", "e is required")
    assert check.problem("text") == ("", "the event must be an object, not string")


def test_check_source_gives_the_source_or_the_config_error_naming_the_key() -> None:
    plugins = [KitPlugin(KIT_DIALECT)]
    source = check_source({"name": "k", "dialect": "kit", "secret": SECRET}, plugins=plugins)
    assert (source.name, source.dialect, source.settings["secret"]) == ("k", "kit", SECRET)
    with pytest.raises(ConfigError, match="secret is required"):
        check_source({"name": "k", "dialect": "kit"}, plugins=plugins)
    with pytest.raises(ConfigError, match="secret has leading or trailing whitespace"):
        check_source({"name": "k", "dialect": "kit", "secret": SECRET + "\n"}, plugins=plugins)
    with pytest.raises(ConfigError, match="unknown dialect 'kit'"):
        check_source({"name": "k", "dialect": "kit", "secret": SECRET})  # not registered without the plugin


def test_a_refused_pipeline_config_raises_and_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ConfigError, match="secret is required"):
        Pipeline(sources=[{"name": "k", "dialect": "kit"}], plugins=[KitPlugin(KIT_DIALECT)])
    assert list(tmp_path.iterdir()) == []


def test_secret_fields_default_to_the_required_string_keys() -> None:
    assert KIT_DIALECT.secrets == ("secret",)
    assert dataclasses.replace(KIT_DIALECT, secret_fields=()).secrets == ()


def test_golden_files_are_written_only_with_update_goldens(tmp_path: Path) -> None:
    path = tmp_path / "golden" / "x.json"
    with pytest.raises(AssertionError, match="--update-goldens"):
        assert_golden(path, {"a": 1})
    golden_module.settings.update, before = True, golden_module.settings.update
    try:
        assert_golden(path, {"a": 1})
    finally:
        golden_module.settings.update = before
    assert_golden(path, {"a": 1})
    with pytest.raises(AssertionError, match="differs from the golden file"):
        assert_golden(path, {"a": 2})


def test_stable_still_fails_when_the_core_stops_stamping() -> None:
    event = {"type": "track", "messageId": "m-1", "receivedAt": "2024-05-01T12:00:00.000Z",
             "timestamp": "2024-05-01T12:00:00.000Z", "source": {"id": "i", "name": "n", "dialect": "d"}}
    assert stable(event)["timestamp"] == "<receivedAt>"
    with pytest.raises(AssertionError, match="receivedAt"):
        stable({**event, "receivedAt": None})


def test_a_new_dialect_package_installs_and_passes_its_own_tests(tmp_path: Path) -> None:
    """Done as a contributor would: generate, pip install next to the gateway, run its tests away
    from this repository (no tests/ of ours), with every installed plugin loading."""
    package = new_dialect("acme_kit", tmp_path / "gateway-acme-kit")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--target", str(site), str(package)], check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("GATEWAY_PLUGINS", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    pytest_bin = Path(sys.executable).parent / "pytest"
    result = subprocess.run([str(pytest_bin), "-q", "-p", "no:cacheprovider", str(package / "tests")],
                            cwd=package, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    listed = subprocess.run([str(Path(sys.executable).parent / "gateway"), "plugins"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert "acme_kit" in listed.stdout


def test_new_dialect_refuses_a_bad_name_or_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lower-case"):
        new_dialect("Bad-Name", tmp_path / "x")
    (tmp_path / "taken").mkdir()
    with pytest.raises(ValueError, match="exists already"):
        new_dialect("fine", tmp_path / "taken")


def test_the_pytest_plugin_is_registered_by_entry_point() -> None:
    import importlib.metadata
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert eps.get("gateway") == "gateway.testing.pytest_plugin"
    assert (ROOT / "gateway" / "py.typed").exists()


def test_every_name_the_kit_exports_is_in_the_guide() -> None:
    import gateway.testing

    guide = (ROOT / "docs" / "plugins.md").read_text()
    section = guide.split("## The test kit (`gateway.testing`)", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in gateway.testing.__all__ if f"`{name}" not in section]
    assert not missing, f"gateway.testing exports without a word in docs/plugins.md's kit section: {missing}"
