"""Official browser SDKs from npm, at pinned versions, in a cache at the repository root.

``.npm-sdks/`` is reused while the pins stay the same, so only the first run pays for the install.
``--ignore-scripts``: a test set-up never runs a package's install scripts.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NPM_ROOT = ROOT / ".npm-sdks"
# The versions the browser tests and the README's snippets were checked with.
PINS = {"@segment/analytics-next": "1.84.3", "@rudderstack/analytics-js": "3.34.1"}


def npm_sdks() -> Path:
    """The ``node_modules`` folder holding the pinned SDKs, installing them when needed."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the browser SDK tests (Debian: apt-get install npm)")
    wanted = json.dumps(PINS, sort_keys=True)
    marker = NPM_ROOT / ".pins"
    NPM_ROOT.mkdir(exist_ok=True)
    with open(NPM_ROOT / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.exists() and marker.read_text() == wanted):
            (NPM_ROOT / "package.json").write_text(json.dumps({"private": True, "dependencies": PINS}))
            subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-save",
                            *(f"{name}@{version}" for name, version in PINS.items())],
                           cwd=NPM_ROOT, check=True, timeout=600, capture_output=True)
            marker.write_text(wanted)
    return NPM_ROOT / "node_modules"
