"""Installs the Debian packages the test suite drives (as root, once per machine); a no-op when present."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

# program on PATH -> Debian package that provides it
NEEDED: dict[str, str] = {
    "chromium": "chromium",  # the /admin page and browser SDK tests drive it through Playwright
    "npm": "npm",  # installs the pinned browser SDKs for tests/browser (tests/support/npm_sdks.py)
}

# Debian package -> a file pattern it installs. PostgreSQL's programs are not on PATH on Debian
# (they live under /usr/lib/postgresql/<version>/bin), so look there. Without these the tests
# that need them skip, so a machine where they cannot be installed still runs the suite.
OPTIONAL: dict[str, str] = {
    "postgresql": "/usr/lib/postgresql/*/bin/pg_ctl",  # tests/support/postgres.py starts a throwaway cluster
}


def main() -> int:
    missing = sorted({pkg for prog, pkg in NEEDED.items() if shutil.which(prog) is None})
    optional = sorted(pkg for pkg, pattern in OPTIONAL.items() if not glob.glob(pattern))
    if not missing and not optional:
        return 0
    if os.geteuid() != 0:
        if optional:
            print(f"tests that need the Debian packages {', '.join(optional)} will be skipped;"
                  " install them as root to run them", file=sys.stderr)
        if missing:
            print(f"tests need the Debian packages {', '.join(missing)}; install them as root", file=sys.stderr)
            return 1
        return 0
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing, *optional],
                   check=True, env=env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
