"""Runtime sources outlive restarts and reach every worker process."""

from __future__ import annotations

import httpx

from tests.admin.support import ADMIN, CONFIG, create, get, send
from tests.conftest import GatewayFactory
from tests.support.server import wait_until, with_port


def test_sources_keys_and_counters_survive_a_restart(gateway_factory: GatewayFactory) -> None:
    gw = gateway_factory(CONFIG)
    first = create(gw, "durable")["credentials"]["write_key"]
    send(gw, first, event="before-restart")
    second = gw.post("/api/v1/sources/durable/rotate-key", headers=ADMIN).json()["credentials"]["write_key"]
    send(gw, second, event="after-rotation")
    r = gw.post("/probe/track", json={"event": "forbidden-word"}, auth=(second, ""))
    assert r.status_code == 400
    gw.kill()  # kill -9: nothing gets a chance to be written at shutdown
    gw.start()

    source = get(gw, "/api/v1/sources/durable")["source"]
    assert source["origin"] == "api"
    assert (source["status"], source["events_total"], source["rejected_total"]) == ("connected", 2, 1)
    assert source["events_24h"] == 2
    assert source["last_error"] == "event may not be forbidden-word"
    assert [e["event"]["event"] for e in get(gw, "/api/v1/sources/durable/events")["events"]] == \
        ["after-rotation", "before-restart"]
    send(gw, first)  # still inside its grace period
    send(gw, second)


WORKERS_CONFIG = CONFIG + "\n[server]\nworkers = 2\n"


def _fresh(url: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    """A request on a new connection, so the kernel may hand it to either worker."""
    with httpx.Client(base_url=url, timeout=10) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


def test_every_worker_honours_a_source_created_through_another(gateway_factory: GatewayFactory) -> None:
    # The first start makes the database; workers then share it.
    gw = gateway_factory(CONFIG)
    gw.stop()
    gw.config_path.write_text(with_port(WORKERS_CONFIG, gw.port))
    gw.start()
    workers = wait_until(lambda: len({_fresh(gw.url, "GET", "/ready").json()["pid"] for _ in range(8)}) == 2
                         or None, timeout=30, message="both workers answering")
    assert workers
    key = create(gw, "shared")["credentials"]["write_key"]
    # The admin API re-reads the store before answering, so every worker knows the source at once.
    for _ in range(10):
        assert _fresh(gw.url, "GET", "/api/v1/sources/shared", headers=ADMIN).status_code == 200

    def all_accept() -> bool:
        codes = {_fresh(gw.url, "POST", "/probe/track", json={"event": "e"}, auth=(key, "")).status_code
                 for _ in range(10)}
        return codes == {200}

    wait_until(all_accept, timeout=20, interval=0.2, message="every worker accepts the new key")

    assert _fresh(gw.url, "DELETE", "/api/v1/sources/shared", headers=ADMIN).status_code == 204

    def all_refuse() -> bool:
        codes = {_fresh(gw.url, "POST", "/probe/track", json={"event": "e"}, auth=(key, "")).status_code
                 for _ in range(10)}
        return codes == {401}

    wait_until(all_refuse, timeout=20, interval=0.2, message="every worker refuses the deleted key")
