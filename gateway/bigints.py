"""Integers past 64 bits are refused with a 400 naming where they are.

orjson, which parses every body, reads such an integer as the nearest float: 2**64 + 1 would be
stored as 1.8446744073709552e19, a different number, and every sink after it would agree on the
wrong value. Keeping it exactly is no option either: orjson cannot write it back, nor can most
sinks' JSON columns or the SDKs reading them. So the client learns at once, and can send the
value as a string, which every part keeps as sent.

Checking costs two passes over the body in C (about a tenth of parsing it); only a body with a run of 19 or more
digits (inside a string or not) is parsed a second time, by the standard library, which keeps
integers as integers.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import GatewayError

INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # what orjson reads and writes exactly
# Digits -> "9", everything else -> " ": then one substring search finds a run of 19 digits, both
# steps in C at memory speed (a regular expression for the same run costs more than parsing the body).
_DIGITS_ONLY = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_RUN = b"9" * 19


class _Big:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> Any:
    digits = len(text) - text.startswith("-")
    if digits < 19:
        return None  # the value is not needed, only whether it fits
    if digits > 20 or not INT_MIN <= int(text) <= INT_MAX:
        return _Big(text)
    return None


def _first_big(document: Any) -> tuple[str, str] | None:
    """The path and digits of the first integer out of range, walking without recursion."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Big):
            return path, node.text
        if isinstance(node, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(node))))
    return None


def refuse_big_integers(data: bytes) -> None:
    """Raise a 400 when the (already valid) JSON ``data`` holds an integer orjson cannot keep exactly."""
    if _RUN not in data.translate(_DIGITS_ONLY):
        return
    try:
        document = json.loads(data, parse_int=_parse_int, parse_float=lambda _: None)
    except RecursionError:
        raise GatewayError("body is nested too deeply to check its long numbers", code="invalid_json") from None
    found = _first_big(document)
    if found is None:
        return
    path, text = found
    shown = text if len(text) <= 40 else f"{text[:37]}..."
    raise GatewayError(f"{path or 'the body'} is an integer beyond 64 bits ({shown}); it cannot be kept "
                       "exactly: send it as a string", code="integer_out_of_range",
                       detail={"field": path or None, "min": INT_MIN, "max": INT_MAX})
