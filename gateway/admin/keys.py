"""Source keys: making them, rotating them, and showing only their last characters."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from gateway.dialects import Dialect

# After a rotation the replaced key keeps working this long unless the request says otherwise:
# a day covers a deploy of the new key to every app without a window of lost events.
DEFAULT_GRACE_SECONDS = 24 * 3600
MAX_GRACE_SECONDS = 30 * 24 * 3600
HIDDEN = ("name", "dialect")


def new_credentials(dialect: Dialect) -> dict[str, str]:
    """Fresh key fields for a new source of ``dialect``."""
    if dialect.generate_credentials is not None:
        return dict(dialect.generate_credentials())
    return {name: secrets.token_urlsafe(24) for name in dialect.secrets}


def rotated_secrets(dialect: Dialect) -> dict[str, str]:
    """New values for the dialect's secret fields only: the public half of a key pair stays the same."""
    fresh = new_credentials(dialect)
    return {name: fresh.get(name) or secrets.token_urlsafe(24) for name in dialect.secrets}


def hint(value: Any) -> str:
    """The last four characters, enough to tell keys apart, never enough to use one."""
    text = str(value)
    return "…" + text[-4:] if len(text) >= 12 else "…"


def masked_settings(settings: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    # Besides the declared secrets, any value a client authenticates with is masked too.
    try:
        keys = set(dialect.credentials(settings))
    except Exception:  # settings not (yet) complete: the declared secrets still are masked
        keys = set()
    return {k: hint(v) if k in dialect.secrets or (isinstance(v, str) and v in keys) else v
            for k, v in settings.items() if k not in HIDDEN}


def shown_once(settings: Mapping[str, Any], dialect: Dialect, fields: set[str]) -> dict[str, Any]:
    """What a create or rotate answer shows in full: the key fields it made plus the secrets."""
    wanted = fields | set(dialect.secrets)
    return {k: settings[k] for k in settings if k in wanted}
