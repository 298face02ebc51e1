"""The wheel installs the project under its own names: ``gateway``, ``gateway_plugins``, ``gateway_schemas``.

From the issue: the wheel put top-level packages named ``plugins`` and ``schemas`` into site-packages,
generic names another distribution may also install. The repository keeps its layout; the wheel
renames them (setup.py's package_dir), entry points included, and still works from the wheel alone.
"""

from __future__ import annotations

import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[storage]
url = "sqlite+aiosqlite:///data/gateway.db"

[[sources]]
name = "backend"
dialect = "segment_style"
write_key = "packaged-write-key"

[[sources]]
name = "product"
dialect = "posthog"
api_key = "phc_packaged"

[[sinks]]
name = "events-db"
type = "sqlite"
url = "sqlite+aiosqlite:///data/events.db"

[[sinks]]
name = "partner"
type = "webhook"
target = "https://example.com/hook"
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=out)
    assert done.returncode == 0, done.stderr[-3000:]
    [built] = out.glob("event_gateway-*.whl")
    return built


def test_the_wheel_has_only_the_projects_own_top_level_names(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert tops == {"gateway", "gateway_plugins", "gateway_schemas"}, tops
    # the data files came along: the plugins' schemas, the canonical schema, the admin page
    for needed in ("gateway_plugins/segment_style/event.schema.json", "gateway_schemas/canonical_event.schema.json",
                   "gateway/admin/static/index.html", "gateway/py.typed"):
        assert needed in names, needed
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    section = text.split("[gateway]")[1].split("[")[0]
    targets = [line.split("=")[1].strip() for line in section.strip().splitlines()]
    assert targets and all(t.startswith("gateway_plugins.") for t in targets), text


def test_the_unpacked_wheel_checks_a_config_with_its_own_plugins(wheel: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    (tmp_path / "config.toml").write_text(CONFIG)
    # No site processing (-S): this checkout's editable install is not seen; the dependencies come from the
    # test venv's site-packages, the gateway and its plugins only from the wheel.
    deps = site.getsitepackages()[0]
    script = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
              "from gateway.cli import main\n"
              "code = main(['check', '--config', 'config.toml'])\n"
              "import gateway, gateway_plugins.segment_style as s\n"
              "print('FROM', gateway.__file__, s.__file__)\n"
              "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-S", "-c", script, str(unpacked), deps], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    origin = done.stdout.split("FROM", 1)[1].split()
    assert all(path.startswith(str(unpacked)) for path in origin), origin
    assert "source 'product': dialect posthog" in done.stdout + done.stderr, done.stdout + done.stderr
