"""Installs the Debian packages the test suite drives (as root, once per machine); a no-op when present."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# program on PATH -> Debian package that provides it
NEEDED: dict[str, str] = {}


def main() -> int:
    missing = sorted({pkg for prog, pkg in NEEDED.items() if shutil.which(prog) is None})
    if not missing:
        return 0
    if os.geteuid() != 0:
        print(f"tests need the Debian packages {', '.join(missing)}; install them as root", file=sys.stderr)
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
