"""``make run`` installs the runtime only; the README says what a self-hoster needs to know."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_dry_run(target: str) -> str:
    # -B: as on a fresh clone (every step shown), -n: shown, not run
    return subprocess.run(["make", "-n", "-B", target], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, check=True).stdout


def test_make_run_installs_runtime_dependencies_only() -> None:
    steps = make_dry_run("run")
    assert "pip install" in steps and "-e ." in steps
    assert ".[dev]" not in steps, steps
    assert "gateway serve --config config.toml" in steps


def test_make_test_adds_the_dev_dependencies() -> None:
    assert "-e '.[dev]'" in make_dry_run("test")


def test_the_readme_states_the_python_version_pyproject_requires() -> None:
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    version = re.fullmatch(r">=(\d+\.\d+)", required)
    assert version is not None
    assert f"Python {version.group(1)} or newer" in (ROOT / "README.md").read_text()


def test_the_readme_gives_the_demo_admin_key_of_the_demo_config() -> None:
    key = re.search(r'api_key = "\$\{GATEWAY_ADMIN_KEY:-([^}]+)\}"', (ROOT / "config.toml").read_text())
    assert key is not None
    assert f"**`{key.group(1)}`**" in (ROOT / "README.md").read_text()


def test_running_in_production_covers_service_stop_port_postgresql_backups_and_clean() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running in production", 1)[1]
    unit = section.split("```ini", 1)[1].split("```", 1)[0]
    assert "ExecStart=" in unit and " serve --config " in unit and "[Install]" in unit
    for topic in ("systemctl stop", "--port", "postgresql+asyncpg://", "Backups", "`make clean` deletes `data/`"):
        assert topic in section, topic
    clean = subprocess.run(["make", "-n", "clean"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert " data" in clean  # what the README warns about is what make clean does


def test_the_stdout_sink_has_a_readme() -> None:
    text = (ROOT / "plugins" / "stdout_sink" / "README.md").read_text()
    assert 'type = "stdout"' in text and "standard output" in text
