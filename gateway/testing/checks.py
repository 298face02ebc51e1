"""The core's checks one at a time, for tests too many or too small for a request each.

``SchemaCheck`` is the item-schema check the pipeline applies to every item (the same validators and
the same field-naming messages), so a dialect's schema can be tested over thousands of generated
items; ``check_source`` is the check a ``[[sources]]`` table gets from ``gateway check``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gateway.config import validate_source
from gateway.sources import Source
from gateway.testing.pipeline import load_plugins
from gateway.validation import CompiledSchema, FieldError

SchemaProblem = FieldError  # (field, message): what a rejection names, as the gateway answers it


class SchemaCheck:
    """A dialect's ``item_schema`` compiled as at start-up: ``SchemaCheck(schema).problem(item)``."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._compiled = CompiledSchema(schema)

    def problem(self, item: Any) -> SchemaProblem | None:
        """None when ``item`` passes; else the field inside the item (``""`` for the item itself) and
        the message, as the rejection records them (in a many-event request the core puts the
        item's place in front of the field: ``batch[2].userId``)."""
        return self._compiled.check(item)


def check_source(table: Mapping[str, Any], *, plugins: Iterable[object] = (),
                 plugins_dir: Path | None = None) -> Source:
    """The ``Source`` a ``[[sources]]`` table (as a dict) comes to, with the environment's plugins plus
    ``plugins``; raises ``gateway.ConfigError`` naming the key, as ``gateway check`` does."""
    dialects = load_plugins(plugins, plugins_dir).dialects()
    return validate_source(table, dialects, "sources[0]")
