"""The README's Guarantees table names the tests that keep each promise: every one it names exists, so no
promise is listed on the strength of a test nobody wrote."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_readme_names_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    named = sorted(set(re.findall(r"`(tests/[\w/.-]+)`", readme)))
    assert named, "the README names no tests"
    missing = [path for path in named if not (ROOT / path.rstrip("/")).exists()]
    assert not missing, f"the README names tests that do not exist: {missing}"
