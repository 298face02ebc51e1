"""A config like the repository's, and the real ``gateway`` command run in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import builtin_plugins

WRITE_KEY = "first-hour-write-key"
CONFIG = f"""
[storage]
url = "sqlite+aiosqlite:///data/gateway.db"

[admin]
api_key = "first-hour-admin-key"

[[sources]]
name = "backend"
dialect = "segment_style"
write_key = "{WRITE_KEY}"

[[sources]]
name = "crm"
dialect = "filum"
write_key = "first-hour-filum-key"

[[sinks]]
name = "console"
type = "stdout"
events = ["track", "identify"]
"""


def gateway_cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_PLUGINS": builtin_plugins()}
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def write_config(directory: Path, text: str = CONFIG) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text(text)
    return path
