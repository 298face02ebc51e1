"""The page and device fields of a Usermaven event, and where each lands in the canonical context.

A field with a home in Segment's context goes there; every other top-level field the mapping does
not consume goes to ``context.usermaven`` under its own name, as sent, so nothing is lost.
"""

from __future__ import annotations

import re
from typing import Any

# Usermaven field -> key of context.page. ``referer`` is how Usermaven's browser tracker spells it.
PAGE_FIELDS = {
    "url": "url",
    "page_title": "title",
    "doc_path": "path",
    "doc_search": "search",
    "referer": "referrer",
}

# Fields the mapping turns into canonical fields: they are not copied to context.usermaven.
# (screen_resolution only when it parses: see ``screen``.)
CONSUMED = frozenset({
    "api_key", "event_id", "event_type", "_timestamp", "user", "company", "event_attributes",
    "user_agent", "user_language", "src", *PAGE_FIELDS,
})

# Strictly lowercase and without spaces, so "WIDTHxHEIGHT" can be rebuilt exactly from the numbers.
_SIZE = re.compile(r"([1-9][0-9]{0,5})x([1-9][0-9]{0,5})")


def screen(value: Any) -> dict[str, int] | None:
    """``"1440x900"`` -> ``{"width": 1440, "height": 900}``; None for "0" or anything else."""
    if not isinstance(value, str):
        return None
    match = _SIZE.fullmatch(value)
    if match is None:
        return None
    return {"width": int(match[1]), "height": int(match[2])}


def build_context(item: dict[str, Any]) -> dict[str, Any]:
    """A fresh context dict for one canonical event of ``item`` (each event gets its own copy)."""
    context: dict[str, Any] = {}
    page = {key: item[field] for field, key in PAGE_FIELDS.items() if item.get(field) is not None}
    if page:
        context["page"] = page
    if item.get("user_agent") is not None:
        context["userAgent"] = item["user_agent"]
    if item.get("user_language") is not None:
        context["locale"] = item["user_language"]
    if item.get("src") is not None:
        context["library"] = {"name": item["src"]}
    size = screen(item.get("screen_resolution"))
    if size is not None:
        context["screen"] = size
    kept = {
        key: value
        for key, value in item.items()
        if key not in CONSUMED and value is not None
        and not (key == "screen_resolution" and size is not None)
    }
    if kept:
        context["usermaven"] = kept
    return context
