"""Issue 11 §3 and §8: the control API is validated like any API, changes nothing when it refuses,
and answers only this machine (loopback peer and loopback ``Host``) unless a control token is set.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conformance.commands.serve import _control_notice, command
from conformance.simulator import Simulator
from conformance.simulator.app import create_app
from conformance.simulator.config import SimulatorConfig
from conformance.simulator.control import is_loopback_host
from conformance.simulator.lifecycle import LifecycleEngine

from .conftest import ACCOUNT, APP, AUTH, create_body

TOKEN = "control-token-for-tests-0123456789"
HUGE_INT = "1" + "0" * 4000  # a valid JSON number that float() cannot hold


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(engine_factory=LifecycleEngine) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def http(sim: Simulator) -> Iterator[httpx.Client]:
    """One client for the module: building a client per test is slow on a loaded machine."""
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        yield client


def _state(http: httpx.Client) -> list[Any]:
    """Everything the control API can change, as it reads back."""
    paths = ["/_sim/accounts", "/_sim/limits", "/_sim/credentials", f"/_sim/accounts/{ACCOUNT}/limits"]
    state = [http.get(p).json() for p in paths]
    clock = http.get("/_sim/clock").json()
    return [*state, clock["timeScale"]]


def _put_raw(http: httpx.Client, path: str, text: str) -> httpx.Response:
    return http.put(path, content=text.encode(), headers={"content-type": "application/json"})


# (path, JSON text of a body that must be refused)
REFUSED: list[tuple[str, str]] = [
    ("/_sim/clock", '{"timeScale": 1e300}'),
    ("/_sim/clock", '{"timeScale": 1e-300}'),
    ("/_sim/clock", f'{{"timeScale": {HUGE_INT}}}'),
    ("/_sim/clock", '{"timeScale": 1e400}'),
    ("/_sim/clock", '{"timeScale": true}'),
    ("/_sim/clock", '{"timeScale": "1"}'),
    ("/_sim/clock", '{"timeScale": -0}'),
    ("/_sim/limits", f'{{"callsPerSecond": 5, "maxConcurrentCalls": {HUGE_INT}}}'),
    ("/_sim/limits", '{"callsPerSecond": 5e-324}'),
    ("/_sim/limits", '{"callsPerSecond": 1e300}'),
    ("/_sim/limits", '{"maxConcurrentCalls": 2.5}'),
    (f"/_sim/accounts/{ACCOUNT}/limits", f'{{"callsPerSecond": 1, "maxCallQueueSize": {HUGE_INT}}}'),
    (f"/_sim/accounts/{ACCOUNT}/limits", '{"maxConcurrentCalls": false}'),
    (f"/_sim/accounts/{ACCOUNT}/limits", '{"callsPerSecond": 1e-320}'),
    (
        f"/_sim/accounts/{ACCOUNT}",
        json.dumps({"username": "bw-user", "password": "x", "callsPerSecond": 1e300}),
    ),
    (f"/_sim/accounts/{ACCOUNT}", json.dumps({"username": "u" * 5000, "password": "x"})),
    (
        f"/_sim/accounts/{ACCOUNT}",
        json.dumps(
            {
                "username": "bw-user",
                "password": "x",
                "numbers": [{"range": ["+12000000000", "+12000100000"]}] * 3,  # 300,003 numbers
            }
        ),
    ),
    (f"/_sim/accounts/{ACCOUNT}/applications/{APP}", json.dumps({"callbackTimeout": 1e300})),
    (f"/_sim/accounts/{ACCOUNT}/applications/{APP}", f'{{"callbackTimeout": {HUGE_INT}}}'),
    (f"/_sim/accounts/{ACCOUNT}/applications/{APP}", json.dumps({"name": ["not", "a", "string"]})),
    (
        "/_sim/accounts",
        json.dumps({"accounts": [{"id": int(HUGE_INT[:300]), "username": "a", "password": "b"}]}),
    ),
    (
        "/_sim/credentials",
        json.dumps({"credentials": [{"clientId": "c", "clientSecret": "s" * 2000, "accounts": []}]}),
    ),
    ("/_sim/credentials/new-client", json.dumps({"clientSecret": 12, "accounts": [ACCOUNT]})),
    (f"/_sim/accounts/{ACCOUNT}/numbers/+19195550100", json.dumps({"applicationId": 5})),
]


@pytest.mark.parametrize(("path", "text"), REFUSED, ids=range(len(REFUSED)))
def test_refused_control_requests_are_400_and_change_nothing(
    http: httpx.Client, path: str, text: str
) -> None:
    before = _state(http)
    r = _put_raw(http, path, text)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"type", "description", "id"}
    assert _state(http) == before


def test_huge_time_scale_leaves_the_simulator_working(http: httpx.Client) -> None:
    """The reported case: the refused scale used to be kept and break every call until restart."""
    assert _put_raw(http, "/_sim/clock", '{"timeScale": 1e300}').status_code == 400
    assert http.get("/_sim/clock").status_code == 200
    created = http.post(f"/accounts/{ACCOUNT}/calls", json=create_body(), auth=AUTH)
    assert created.status_code == 201
    assert http.get(f"/accounts/{ACCOUNT}/calls", auth=AUTH).status_code == 200


def test_time_scale_range_ends_are_accepted(http: httpx.Client) -> None:
    for scale in (0.001, 1000, None):
        r = http.put("/_sim/clock", json={"timeScale": scale})
        assert (r.status_code, r.json()["timeScale"]) == (200, scale)


@pytest.mark.parametrize(
    "query", ["since=%C2%B2", "limit=" + "9" * 40, "since=-1", "limit=1e3", "since=%D9%A1"]
)
def test_request_log_query_ints_are_ascii_and_bounded(http: httpx.Client, query: str) -> None:
    r = http.get(f"/_sim/requests?{query}")
    assert r.status_code == 400
    assert r.json()["description"].startswith("Invalid ")


# ------------------------------------------------------------------------------------------ access
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:8080",
        "localhost",
        "LOCALHOST:1",
        "[::1]",
        "[::1]:8080",
        "127.8.9.10:80",
        "::1",
    ],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "evil.example",
        "evil.example:8080",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "0.0.0.0",
        "10.0.0.1:8080",
        "[::1",
        "[::]:80",
        "127.0.0.1:80:80",
        "127.0.0.1:port",
        "localhost:123456",
    ],
)
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize("host", ["rebound.example:8080", "192.168.1.20:8080", "localhost.attacker.test"])
def test_control_requests_naming_another_host_are_403(http: httpx.Client, host: str) -> None:
    r = http.get("/_sim/accounts", headers={"Host": host})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["type"] == "authorization-error"
    assert "loopback" in r.json()["description"]


def test_voice_api_is_not_subject_to_the_control_host_check(http: httpx.Client) -> None:
    r = http.get(f"/accounts/{ACCOUNT}/calls", headers={"Host": "api.example"}, auth=AUTH)
    assert r.status_code == 200


def _asgi_get(app: Any, peer: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """One GET through the app as if from ``peer`` (an address no test socket could bind)."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(get())


@pytest.mark.parametrize("peer", ["10.1.2.3", "192.168.0.7", "2001:db8::1", "::ffff:10.0.0.1", "testclient"])
def test_control_requests_from_another_machine_are_403(peer: str) -> None:
    """Listening on every interface without a token: other machines never reach /_sim/."""
    app = create_app(SimulatorConfig(), engine_factory=LifecycleEngine)
    r = _asgi_get(app, peer, "/_sim/accounts")
    assert (r.status_code, r.json()["type"]) == (403, "authorization-error")
    assert _asgi_get(app, peer, "/health").status_code == 200
    for local in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert _asgi_get(app, local, "/_sim/accounts").status_code == 200


def test_with_a_token_only_bearer_requests_reach_the_control_api() -> None:
    app = create_app(SimulatorConfig(control_token=TOKEN), engine_factory=LifecycleEngine)
    good = {"Authorization": f"Bearer {TOKEN}"}
    for peer in ("127.0.0.1", "10.1.2.3"):
        missing = _asgi_get(app, peer, "/_sim/accounts")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        for wrong in ("Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"):
            assert _asgi_get(app, peer, "/_sim/accounts", {"Authorization": wrong}).status_code == 401
        assert _asgi_get(app, peer, "/_sim/accounts", good).status_code == 200
        assert _asgi_get(app, peer, "/_sim/accounts", {**good, "Host": "sim.example:8080"}).status_code == 200


@pytest.mark.parametrize("token", ["short", "has a space in it ok", "x" * 2000, "tøken-with-non-ascii-chars"])
def test_bad_control_tokens_are_refused_at_start(token: str) -> None:
    result = CliRunner().invoke(command, ["--port", "0", "--control-token", token])
    assert result.exit_code == 2
    assert "control token" in result.output


def test_binding_a_non_loopback_address_warns(capsys: pytest.CaptureFixture[str]) -> None:
    _control_notice("0.0.0.0", has_token=False)
    err = capsys.readouterr().err
    assert "Warning: listening on 0.0.0.0" in err
    assert "answers only this machine" in err
    _control_notice("192.168.1.5", has_token=True)
    assert "needs 'Authorization: Bearer" in capsys.readouterr().err
    _control_notice("127.0.0.1", has_token=False)
    assert capsys.readouterr().err == ""
