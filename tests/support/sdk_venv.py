"""Official vendor SDKs, each in its own virtual environment (their pins conflict with each other).

The environments live in ``.venv-sdks/`` at the repository root and are reused while their
requirements stay the same, so only the first run pays for the install.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDK_ROOT = ROOT / ".venv-sdks"


def sdk_python(name: str, requirements: list[str]) -> Path:
    """Return the python of a venv named ``name`` holding ``requirements``, creating it when needed."""
    venv = SDK_ROOT / name
    python = venv / "bin" / "python"
    marker = venv / ".requirements"
    wanted = "\n".join(requirements)
    SDK_ROOT.mkdir(exist_ok=True)
    with open(SDK_ROOT / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and marker.exists() and marker.read_text() == wanted:
            return python
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
            check=True,
            timeout=600,
        )
        marker.write_text(wanted)
    return python


def run_sdk_script(python: Path, script: str, *, env: dict[str, str] | None = None,
                   timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with the SDK's python; raise with its output when it fails."""
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                            timeout=timeout, env=env)
    if result.returncode != 0:
        raise AssertionError(f"SDK script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
