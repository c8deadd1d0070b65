"""The simulator sends its own requests only to loopback hosts unless told otherwise."""

import time

import httpx
import pytest

from conformance.errors import ConfigurationError
from conformance.simulator import Simulator, SimulatorConfig
from conformance.simulator.egress import EgressPolicy, is_loopback_url

ACCOUNT = "9900000"
AUTH = ("bw-user", "bw-pass")


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/answer", True),
        ("http://127.9.9.9/x", True),
        ("http://[::1]:9000/x", True),
        ("http://localhost/x", True),
        ("https://app.localhost/x", True),
        ("https://0.com/answer", False),
        ("http://10.0.0.1/x", False),
        ("http://192.168.1.1/x", False),
        ("http://127.0.0.1.example.com/x", False),
        ("not a url", False),
        ("http://[::1/x", False),
    ],
)
def test_loopback_detection_never_resolves_names(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback
    assert EgressPolicy("loopback").allows(url) is loopback
    assert EgressPolicy("any").allows(url)


def test_bad_policy_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        SimulatorConfig(callback_hosts="everywhere")  # type: ignore[arg-type]


def test_a_call_whose_answer_url_is_not_local_ends_with_callback_error() -> None:
    body = {
        "from": "+19195550100",
        "to": "+19995550000",
        "applicationId": "11111111-1111-4111-8111-111111111111",
        "answerUrl": "https://0.com/answer",
    }
    with Simulator() as sim, httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=10) as client:
        created = client.post(f"/accounts/{ACCOUNT}/calls", json=body)
        assert created.status_code == 201, created.text
        call_id = created.json()["callId"]
        deadline = time.monotonic() + 30
        state: dict[str, object] = {}
        while time.monotonic() < deadline:
            state = client.get(f"/accounts/{ACCOUNT}/calls/{call_id}").json()
            if state.get("state") == "disconnected":
                break
            time.sleep(0.05)
        assert state.get("state") == "disconnected"
        assert state.get("disconnectCause") == "callback-error"
        assert "loopback" in str(state.get("errorMessage"))
        assert sim.runtime.engine.deliverer.attempts["https://0.com/answer"] >= 1
