"""Every seed example, as its docs send it, through a real gateway to what the stdout sink prints,
on each HTTP engine (``[server] engine``)."""

from __future__ import annotations

import pytest

from tests.conftest import GatewayFactory
from tests.support.server import RunningGateway

from .gateways import BASIC, CONFIG, post_and_collect
from .golden import assert_golden, read_golden
from .seeds import EXAMPLES, Example


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def gateway(module_gateway_factory: GatewayFactory, request: pytest.FixtureRequest) -> RunningGateway:
    return module_gateway_factory(CONFIG + f'\n[server]\nengine = "{request.param}"\n', name=request.param)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_seed_example_reaches_the_sink_as_its_golden_events(
    gateway: RunningGateway, example: Example
) -> None:
    auth = BASIC if example.auth == "basic" else None
    expected = len(read_golden(example.golden))
    events = post_and_collect(
        gateway,
        lambda: gateway.post(
            example.path,
            content=example.text().encode(),
            auth=auth,
            headers={"Content-Type": "application/json"},
        ),
        expected,
    )
    assert_golden(example.golden, events)
    assert all("writeKey" not in event for event in events)
