"""JSON Schema validation: compiled once at start-up, errors that name the field's path.

A compiled validator decides validity on the hot path: jsonschema-rs when installed (Rust, a
microsecond or two per event, five to ten times less than fastjsonschema, whose generated Python
raises and catches an exception in every ``if`` that does not hold), else fastjsonschema. jsonschema,
the reference, then describes a failure, which only costs on bad input.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


# A schema keyword (ignored by validators) giving a pattern's meaning in words, for error messages.
EXPECTED = "x-expected"


class FieldError(NamedTuple):
    field: str
    message: str


def json_path(parts: Iterable[str | int], prefix: str = "") -> str:
    """``["batch", 3, "properties"]`` -> ``batch[3].properties`` (after ``prefix`` when given)."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "integer", float: "number"}.get(type(value), type(value).__name__)


def describe(error: ValidationError, prefix: str = "") -> FieldError:
    """Turn a jsonschema error into the field it concerns and a sentence a person can act on."""
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, Mapping):
        missing = [k for k in error.validator_value if k not in instance]
        name = missing[0] if missing else "?"
        return FieldError(json_path([*path, name], prefix), f"{name} is required")
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = set(error.schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in known)
        name = extra[0] if extra else "?"
        allowed = ", ".join(sorted(known)) or "none"
        return FieldError(json_path([*path, name], prefix), f"unknown key {name}; allowed keys: {allowed}")
    field = json_path(path, prefix)
    label = field or "the event"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return FieldError(field, f"{label} must be {_article(expected)}, not {_type_name(instance)}")
    if error.validator == "enum":
        options = ", ".join(repr(v) for v in error.validator_value)
        return FieldError(field, f"{label} must be one of {options}, not {instance!r}")
    if error.validator == "pattern" and isinstance(error.schema.get(EXPECTED), str):
        # the schema's own words for what it expects, rather than the regular expression
        return FieldError(field, f"{label} must be {error.schema[EXPECTED]}, not {instance!r}")
    if error.validator == "const":
        return FieldError(field, f"{label} must be {error.validator_value!r}, not {instance!r}")
    return FieldError(field, f"{label}: {error.message}")


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _rust_validator(schema: dict[str, Any]) -> Any:
    """jsonschema-rs's validator, or None when it is not installed (it is optional)."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    try:
        # Formats are not checked, as neither jsonschema (without a format checker) nor fastjsonschema does.
        return jsonschema_rs.Draft7Validator(schema, validate_formats=False)
    except Exception:  # a schema it cannot take (a regular expression Rust rejects): fastjsonschema only
        return None


class CompiledSchema:
    """A schema ready for the hot path. ``check(instance)`` returns None when valid."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        # fastjsonschema rewrites nested $refs in place: give it a copy, never the plugin's schema.
        import fastjsonschema
        import jsonschema

        schema = dict(copy.deepcopy(schema))
        jsonschema.Draft7Validator.check_schema(schema)
        self._rust = _rust_validator(schema)  # first: it reads the schema as given, and keeps no reference
        self._fast = fastjsonschema.compile(schema, use_formats=False)
        self._full = jsonschema.Draft7Validator(schema)

    def check(self, instance: Any, prefix: str = "", *, explain: bool = True) -> FieldError | None:
        """None when valid. ``explain=False`` skips jsonschema's fuller description of a failure,
        for when a request has already had many invalid events described."""
        if self._rust is not None and self._rust.is_valid(instance):
            return None
        from fastjsonschema import JsonSchemaValueException
        from jsonschema.exceptions import best_match

        try:
            self._fast(instance)
            return None
        except JsonSchemaValueException as fast_error:
            best = best_match(self._full.iter_errors(instance)) if explain else None
            if best is not None:
                return describe(best, prefix)
            field = json_path(fast_error.path[1:], prefix)
            return FieldError(field, f"{field or 'the event'}: {fast_error.message}")

    def all_errors(self, instance: Any, prefix: str = "") -> list[FieldError]:
        """Every problem, for start-up checks where a complete report beats speed."""
        if self._rust is not None and self._rust.is_valid(instance):
            return []
        errors = sorted(self._full.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [describe(e, prefix) for e in errors]


def config_errors(schema: Mapping[str, Any], instance: Any) -> list[FieldError]:
    """Every problem of a config table. Valid tables, the usual case, are decided by jsonschema-rs
    alone, so ``gateway check`` does not pay for importing and compiling the Python validators."""
    rust = _rust_validator(dict(schema))
    if rust is not None and rust.is_valid(instance):
        return []
    return CompiledSchema(schema).all_errors(instance)
