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


def test_tune_gc_freezes_what_is_loaded_and_raises_the_young_threshold() -> None:
    import gc

    from conformance.simulator.server import GC_THRESHOLDS, tune_gc

    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
        assert gc.get_freeze_count() > 0  # the modules loaded so far are out of the collector's sight
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_serve_tunes_the_collector_the_embedded_simulator_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` is a process of its own; the embedded simulator leaves the user's collector alone."""
    import gc

    import uvicorn
    from click.testing import CliRunner

    from conformance.commands import serve
    from conformance.simulator.server import GC_THRESHOLDS

    before = gc.get_threshold()
    with Simulator() as sim:
        assert httpx.get(f"{sim.base_url}/health").status_code == 200
        assert gc.get_threshold() == before

    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: seen.append(gc.get_threshold()))
    try:
        result = CliRunner().invoke(serve.command, ["--port", "0"])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert result.exit_code == 0, result.output
    assert seen == [GC_THRESHOLDS]  # tuned before it starts serving
