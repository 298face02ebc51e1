"""Filum's typed key/value params (``event_params``) decoded into a plain object.

These checks stand in for the ``param`` definition of the input schema (see ``schema.py``) so
that every error names both the param's index and its key.
"""

from __future__ import annotations

from typing import Any

from gateway import InvalidEvent

from .times import to_utc_iso

VALUE_TYPES = ("string_value", "int_value", "double_value", "datetime_value")
_ONE_OF = "give exactly one of " + ", ".join(VALUE_TYPES)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _decode(value_type: str, raw: Any, field: str, where: str) -> Any:
    """The value itself, or raise ValueError saying what it should have been (InvalidEvent for a time)."""
    if raw is None:  # a typed null: the SDK sends {"string_value": null} for a None param
        return None
    if value_type == "string_value" and isinstance(raw, str):
        return raw
    if value_type == "int_value" and not isinstance(raw, bool):
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer():  # 3.0 is an integer to JSON Schema too
            return int(raw)
    if value_type == "double_value" and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if value_type == "datetime_value" and isinstance(raw, str):
        return to_utc_iso(raw, field, f"{where}: {value_type}")
    wanted = {"string_value": "a string", "int_value": "an integer", "double_value": "a number",
              "datetime_value": "an ISO-8601 date-time string"}[value_type]
    raise ValueError(f"must be {wanted}, not {_json_type(raw)}")


def _where(index: int, key: str | None) -> str:
    return f"event_params[{index}]" + (f" (key {key!r})" if key is not None else "")


def _invalid(index: int, key: str | None, problem: str, field: str) -> InvalidEvent:
    return InvalidEvent(f"{_where(index, key)}: {problem}", field=field)


def _value_type(index: int, key: str, value: Any, path: str) -> str:
    """The one typed field of a param's ``value``, or raise naming what is wrong with it."""
    if not isinstance(value, dict):
        problem = "is required" if value is None else f"must be an object, not {_json_type(value)}"
        raise _invalid(index, key, f"value {problem}; {_ONE_OF}", path)
    unknown = [k for k in value if k not in VALUE_TYPES]
    if unknown:
        raise _invalid(index, key, f"unknown value type {unknown[0]!r}; {_ONE_OF}", f"{path}.{unknown[0]}")
    if not value:
        raise _invalid(index, key, f"value has no value type; {_ONE_OF}", path)
    if len(value) > 1:
        several = ", ".join(value)
        raise _invalid(index, key, f"value has {len(value)} value types ({several}); {_ONE_OF}", path)
    return next(iter(value))


def decode_params(params: list[Any] | None) -> dict[str, Any]:
    """``[{"key": k, "value": {"<type>_value": v}}, ...]`` -> ``{k: v, ...}``, each v of its type."""
    decoded: dict[str, Any] = {}
    for index, param in enumerate(params or ()):
        path = f"event_params[{index}]"
        if not isinstance(param, dict):
            raise _invalid(index, None, f"must be an object, not {_json_type(param)}", path)
        key = param.get("key")
        if not isinstance(key, str) or not key:
            raise _invalid(index, None, "key must be a non-empty string", f"{path}.key")
        if key in decoded:
            raise _invalid(index, key, "duplicate key; each key may appear once per event", f"{path}.key")
        value_type = _value_type(index, key, param.get("value"), f"{path}.value")
        raw = param["value"][value_type]
        try:
            decoded[key] = _decode(value_type, raw, f"{path}.value.{value_type}", _where(index, key))
        except ValueError as problem:
            raise _invalid(index, key, f"{value_type} {problem}", f"{path}.value.{value_type}") from None
    return decoded
