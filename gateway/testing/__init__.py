"""The plugin kit: test a dialect or sink through exactly the code the gateway runs.

- ``Pipeline``: an in-process gateway; ``pipeline.post(path, json=..., headers=...)`` returns an
  ``Outcome`` (status, answer, committed canonical events, rejections).
- ``GatewayServer``: a real server in a subprocess on a free port of 127.0.0.1.
- ``assert_golden`` / ``assert_golden_events`` / ``stable``: golden files (``--update-goldens``).
- ``assert_canonical``: the canonical-event check (the pipeline applies it to every event).
- ``SchemaCheck`` / ``check_source``: the item-schema check and the ``[[sources]]`` table check alone.
- The pytest plugin (installed as an entry point) adds the ``gateway_pipeline``, ``gateway_server``
  and ``goldens`` fixtures.
"""

from gateway.testing.canonical import assert_canonical, canonical_problems
from gateway.testing.checks import SchemaCheck, SchemaProblem, check_source
from gateway.testing.golden import assert_golden, assert_golden_events, stable
from gateway.testing.pipeline import Outcome, Pipeline, load_plugins
from gateway.testing.server import GatewayServer, free_port, wait_until

__all__ = [
    "GatewayServer",
    "Outcome",
    "Pipeline",
    "SchemaCheck",
    "SchemaProblem",
    "assert_canonical",
    "assert_golden",
    "assert_golden_events",
    "canonical_problems",
    "check_source",
    "free_port",
    "load_plugins",
    "stable",
    "wait_until",
]
