"""The canonical-event check: what a mapping produced, after the core stamped it, against the schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gateway_schemas as schemas
import jsonschema

_VALIDATOR = jsonschema.Draft7Validator(schemas.load("canonical_event"), format_checker=jsonschema.FormatChecker())


def canonical_problems(event: Mapping[str, Any]) -> list[str]:
    """Each way ``event`` is not a canonical event (``schemas/canonical_event.schema.json``); empty if it is."""
    errors = sorted(_VALIDATOR.iter_errors(event), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(event)'}: {e.message}" for e in errors]


def assert_canonical(event: Mapping[str, Any]) -> None:
    """Fail with every problem when ``event`` is not a canonical event."""
    problems = canonical_problems(event)
    assert not problems, f"not a canonical event: {problems}\n{dict(event)}"
