"""Whether large bytes a test let go of are still referenced: memory a busy process would keep."""

from __future__ import annotations

import gc


def remember(seen: dict[int, bytes], data: bytes) -> None:
    """Note ``data`` (by id and its first bytes) to look for later with ``still_referenced``."""
    seen[id(data)] = data[:40]


def still_referenced(seen: dict[int, bytes]) -> int:
    """How many of the noted objects some live container still refers to, a reference cycle not yet
    collected included. Copies (what a receiver read, say) are other objects and do not count."""
    return len({id(r) for o in gc.get_objects() for r in gc.get_referents(o)
                if isinstance(r, bytes) and id(r) in seen and r[:40] == seen[id(r)]})


def referenced_starting_with(prefix: bytes, at_least: int = 1_000_000) -> int:
    """How many bytes objects of ``at_least`` bytes that start with ``prefix`` are still referenced."""
    return len({id(r) for o in gc.get_objects() for r in gc.get_referents(o)
                if isinstance(r, bytes) and len(r) >= at_least and r.startswith(prefix)})
