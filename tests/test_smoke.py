from tests.support.server import RunningGateway


def test_probe_event_reaches_stdout(probe_gateway: RunningGateway) -> None:
    r = probe_gateway.post("/probe/track", json={"event": "smoke", "userId": "u1"},
                           auth=("probe-write-key", ""))
    assert r.status_code == 200, r.text
    events = probe_gateway.wait_for_stdout_events(1, where=lambda e: e["event"] == "smoke")
    assert events[0]["userId"] == "u1"
    assert events[0]["source"]["name"] == "probe"
