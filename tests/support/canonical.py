"""Checks that what comes out of the gateway is a canonical event by the published schema."""

from __future__ import annotations

from typing import Any

import gateway_schemas as schemas
import jsonschema

_VALIDATOR = jsonschema.Draft7Validator(schemas.load("canonical_event"), format_checker=jsonschema.FormatChecker())


def assert_canonical(event: dict[str, Any]) -> None:
    errors = sorted(_VALIDATOR.iter_errors(event), key=lambda e: list(e.path))
    assert not errors, f"not a canonical event: {[f'{list(e.path)}: {e.message}' for e in errors]}\n{event}"
