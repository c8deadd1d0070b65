"""The in-process Simulator: starts, serves, stops cleanly, runs the engine's start/aclose."""

from __future__ import annotations

import socket
import threading
from typing import Any

import httpx
import pytest

from conformance.errors import ConfigurationError
from conformance.simulator import Simulator, SimulatorConfig
from conformance.simulator.store import Store

from .conftest import RecordingEngine


class LifespanEngine(RecordingEngine):
    events: list[str] = []

    async def start(self) -> None:
        LifespanEngine.events.append("start")

    async def aclose(self) -> None:
        LifespanEngine.events.append("aclose")


def _simulator_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("bw-simulator-")]


def test_start_serve_stop_leaves_no_thread() -> None:
    before = _simulator_threads()
    with Simulator() as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{sim.base_url}/health").status_code == 200
        assert len(_simulator_threads()) == len(before) + 1
        base = sim.base_url
    assert _simulator_threads() == before
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/health", timeout=2)


def test_engine_lifespan_hooks_run() -> None:
    LifespanEngine.events = []
    with Simulator(engine_factory=LifespanEngine) as sim:
        assert LifespanEngine.events == ["start"]
        assert isinstance(sim.runtime.engine, LifespanEngine)
        assert isinstance(sim.store, Store)
    assert LifespanEngine.events == ["start", "aclose"]


def test_busy_port_is_a_configuration_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port}"):
            Simulator(port=port).start()


def test_overrides_and_config_combine() -> None:
    sim = Simulator(SimulatorConfig(time_scale=1.0), calls_per_second=3)
    assert sim.config.time_scale == 1.0
    assert sim.config.calls_per_second == 3
    with pytest.raises(ConfigurationError):
        Simulator(time_scale=-1)


def test_control_changes_do_not_leak_into_the_config() -> None:
    config = SimulatorConfig()
    with Simulator(config) as sim:
        httpx.put(f"{sim.base_url}/_sim/accounts/9900000/limits", json={"callsPerSecond": 1})
    assert config.accounts[0].calls_per_second is None


def test_head_requests_are_answered_without_body() -> None:
    with Simulator() as sim:
        r = httpx.head(f"{sim.base_url}/accounts/9900000/statistics", auth=("bw-user", "bw-pass"))
        assert r.status_code == 200
        assert r.content == b""


@pytest.mark.parametrize("prefix", ["", "/api/v2"])
def test_trailing_slash_is_not_redirected(prefix: str) -> None:
    with Simulator() as sim:
        r = httpx.get(f"{sim.base_url}{prefix}/accounts/9900000/calls/", auth=("bw-user", "bw-pass"))
        assert r.status_code == 404
        body: dict[str, Any] = r.json()
        assert body["type"] == "validation"


def test_control_api_errors_are_voice_api_errors_too() -> None:
    with Simulator() as sim:
        store = sim.store
        saved = store.requests
        store.requests = None  # type: ignore[assignment]  # reading the log now fails inside the handler
        try:
            r = httpx.get(f"{sim.base_url}/_sim/requests")
        finally:
            store.requests = saved
        assert r.status_code == 500
        assert r.json() == {
            "type": "internal-error",
            "description": "An unknown internal error occurred",
            "id": None,
        }
