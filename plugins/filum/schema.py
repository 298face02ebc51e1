"""The Filum input schema: the full contract, and the form the core validates each event with."""

from __future__ import annotations

import copy
from importlib.resources import files
from typing import Any

import orjson

_FILE = files(__package__ or __name__).joinpath("event.schema.json")
EVENT_SCHEMA: dict[str, Any] = orjson.loads(_FILE.read_bytes())


def item_schema() -> dict[str, Any]:
    """The schema the core runs before ``map``: the full one, less two checks the mapping makes.

    A schema error can only name a param by its index; the mapping's errors also name its key,
    which is what a person looking for the bad param in their code searches for. And a time that
    fails the pattern is better told with an example than with the regular expression.
    """
    schema = copy.deepcopy(EVENT_SCHEMA)
    schema["definitions"]["param"] = {}
    schema["definitions"]["datetime"] = {"type": ["string", "null"]}
    return schema
