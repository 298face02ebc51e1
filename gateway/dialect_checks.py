"""Refusing an inconsistent ``Dialect`` when it is registered, with a message that says what to change.

A declaration that cannot work (body auth without a body field, a secret that is not a source key)
would otherwise pass ``gateway check`` and then answer every request 401, or show a key in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.auth import STYLES
from gateway.decoders import DECODERS
from gateway.dialects import Dialect


def dialect_problems(dialect: Dialect) -> list[str]:
    """Every inconsistency of ``dialect``'s declaration; empty when it can run."""
    problems: list[str] = []
    styles = tuple(dialect.auth)
    unknown = [s for s in styles if s not in STYLES]
    if not styles or unknown:
        problems.append(f"auth names unknown style(s) {', '.join(unknown) or '(none given)'}; "
                        f"known: {', '.join(STYLES)}")
    if "body_write_key" in styles and not dialect.body_key_fields:
        problems.append("auth has body_write_key but body_key_fields is empty: name the body field(s) "
                        "the key is in, e.g. body_key_fields=(\"api_key\",)")
    if dialect.body_key_fields and "body_write_key" not in styles:
        problems.append("body_key_fields is set but auth lacks body_write_key")
    if "header" in styles and not dialect.key_header:
        problems.append("auth has header but key_header is not set: name the header the key is in")
    if "query_token" in styles and not dialect.query_key_params:
        problems.append("auth has query_token but query_key_params is empty")
    for path in dialect.body_key_fields:
        if not path or any(not part for part in path.split(".")):
            problems.append(f"body_key_fields has an empty part in {path!r}")
    bad_decoders = [n for n in dialect.body_decoders if n not in DECODERS]
    if not dialect.body_decoders or bad_decoders:
        problems.append(f"body_decoders names unknown decoder(s) {', '.join(bad_decoders) or '(none given)'}; "
                        f"known: {', '.join(DECODERS)}")
    problems += _source_keys(dialect)
    for route in dialect.routes:
        if not route.path.startswith("/"):
            problems.append(f"route {route.path!r} must start with /")
    return problems


def _source_keys(dialect: Dialect) -> list[str]:
    schema: Mapping[str, Any] = dialect.source_schema
    properties = schema.get("properties", {})
    problems = [f"source_schema requires {k!r} but does not describe it in properties"
                for k in schema.get("required", ()) if k not in properties]
    secrets = dialect.secrets
    if not secrets:
        problems.append("no secret fields: declare the source's key as a required string in source_schema "
                        "(it becomes the default secret_fields), or set secret_fields")
    problems += [f"secret_fields names {k!r}, which source_schema does not describe" for k in secrets
                 if k not in properties]
    if dialect.generate_credentials is None:
        # The admin API then makes a random key for each secret field; a required key that is not
        # secret would be missing from every source it creates.
        missing = [k for k in schema.get("required", ()) if k not in secrets]
        if missing:
            problems.append(f"source_schema requires {', '.join(missing)}, not secret fields: give "
                            "generate_credentials so the admin API can create sources")
    return problems
