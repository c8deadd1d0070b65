"""The /_sim/ control API: accounts, applications, number routing, limits, request log, clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conformance.simulator import Simulator
from conformance.simulator.lifecycle import LifecycleEngine
from conformance.simulator.models import Account

from .conftest import ACCOUNT, APP, AUTH, create_body


@pytest.fixture
def fresh() -> Any:
    with (
        Simulator(engine_factory=LifecycleEngine) as simulator,
        httpx.Client(base_url=simulator.base_url, timeout=10) as c,
    ):
        yield simulator, c


def test_accounts_are_listed_with_masked_passwords(fresh: Any) -> None:
    _, c = fresh
    r = c.get("/_sim/accounts")
    assert r.status_code == 200
    accounts = {a["id"]: a for a in r.json()["accounts"]}
    assert set(accounts) == {"9900000", "9900001"}
    assert accounts[ACCOUNT]["password"] == "*****"
    assert len(accounts[ACCOUNT]["numbers"]) == 100


def test_put_account_then_use_it_over_the_voice_api(fresh: Any) -> None:
    sim, c = fresh
    account = {
        "username": "new-user",
        "password": "new-pass",
        "applications": [{"id": "app-1", "callInitiatedCallbackUrl": "https://e.test/init"}],
        "numbers": [{"number": "+14155550000", "applicationId": "app-1"}],
    }
    r = c.put("/_sim/accounts/5550000", json=account)
    assert r.status_code == 201, r.text
    assert c.put("/_sim/accounts/5550000", json=account).status_code == 200
    routed = sim.store.route("+14155550000")
    assert routed is not None
    assert routed[0].id == "5550000"
    assert routed[1].call_initiated_callback_url == "https://e.test/init"
    r = httpx.post(
        f"{sim.base_url}/accounts/5550000/calls",
        json=create_body(applicationId="app-1"),
        auth=("new-user", "new-pass"),
    )
    assert r.status_code == 201
    assert c.delete("/_sim/accounts/5550000").status_code == 204
    assert c.get("/_sim/accounts/5550000").status_code == 404


def test_applications_and_number_routing(fresh: Any) -> None:
    sim, c = fresh
    app = {
        "callInitiatedCallbackUrl": "http://127.0.0.1:9/initiate",
        "callInitiatedMethod": "GET",
        "callStatusCallbackUrl": "http://127.0.0.1:9/status",
        "callbackUsername": "hook",
        "callbackPassword": "hook-pass",
    }
    r = c.put(f"/_sim/accounts/{ACCOUNT}/applications/loopback", json=app)
    assert r.status_code == 201
    assert r.json()["callbackPassword"] == "*****"
    r = c.put(f"/_sim/accounts/{ACCOUNT}/numbers/+19195550101", json={"applicationId": "loopback"})
    assert r.status_code == 200
    assert r.json() == {"number": "+19195550101", "applicationId": "loopback"}
    routed = sim.store.route("+19195550101")
    assert routed is not None
    assert routed[1].call_initiated_method == "GET"
    assert routed[1].callback_password == "hook-pass"
    # moving a number to the other account
    r = c.put("/_sim/accounts/9900001/numbers/%2B19195550101", json={"applicationId": None})
    assert r.status_code == 200
    assert sim.store.route("+19195550101") is None
    assert "+19195550101" not in sim.store.accounts[ACCOUNT].numbers
    assert c.delete("/_sim/accounts/9900001/numbers/+19195550101").status_code == 204
    assert c.get("/_sim/accounts/9900001/numbers/+19195550101").status_code == 404
    assert c.delete(f"/_sim/accounts/{ACCOUNT}/applications/loopback").status_code == 204


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            f"/_sim/accounts/{ACCOUNT}/applications/x",
            {"callInitiatedCallbackUrl": "ftp://x"},
            "callInitiatedCallbackUrl",
        ),
        (f"/_sim/accounts/{ACCOUNT}/applications/x", {"callInitiatedMethod": "PUT"}, "callInitiatedMethod"),
        (f"/_sim/accounts/{ACCOUNT}/numbers/+19195550150", {"applicationId": "nope"}, "applicationId"),
        (f"/_sim/accounts/{ACCOUNT}/numbers/12345", {"applicationId": APP}, "number"),
        (f"/_sim/accounts/{ACCOUNT}/limits", {"callsPerSecond": -1}, "callsPerSecond"),
        ("/_sim/limits", {"maxConcurrentCalls": 1.5}, "maxConcurrentCalls"),
        ("/_sim/accounts/5550001", {"username": "bw-user", "password": "x"}, "username"),
        ("/_sim/accounts", {"accounts": []}, "accounts"),
        ("/_sim/clock", {"timeScale": -2}, "timeScale"),
        ("/_sim/clock", {}, "timeScale"),
    ],
)
def test_control_api_rejects_bad_bodies_naming_the_problem(
    fresh: Any, path: str, body: Any, field: str
) -> None:
    sim, c = fresh
    before = sim.store.fingerprint()
    r = c.put(path, json=body)
    assert r.status_code == 400, r.text
    assert field in r.json()["description"]
    assert sim.store.fingerprint() == before


def test_put_all_accounts_replaces_them(fresh: Any) -> None:
    sim, c = fresh
    r = c.put("/_sim/accounts", json={"accounts": [{"id": "1", "username": "a", "password": "b"}]})
    assert r.status_code == 200
    assert list(sim.store.accounts) == ["1"]
    assert httpx.get(f"{sim.base_url}/accounts/{ACCOUNT}/calls", auth=AUTH).status_code == 401


def test_request_log_names_the_broken_rule(fresh: Any) -> None:
    sim, c = fresh
    voice = httpx.Client(base_url=sim.base_url, auth=AUTH)
    voice.post(f"/accounts/{ACCOUNT}/calls", json=create_body(to="nope"))
    voice.get(f"/accounts/{ACCOUNT}/calls")
    log = c.get("/_sim/requests").json()["requests"]
    assert [(e["operation"], e["status"], e["rule"]) for e in log[-2:]] == [
        ("createCall", 400, "invalid-to"),
        ("listCalls", 200, "legacy-basic-auth"),  # valid, but sent with Basic while OAuth2 works too
    ]
    since = log[-1]["seq"]
    assert c.get("/_sim/requests", params={"since": since}).json()["requests"] == []
    assert c.get("/_sim/requests", params={"since": "x"}).status_code == 400
    assert c.delete("/_sim/requests").status_code == 204
    assert c.get("/_sim/requests").json()["requests"] == []
    voice.close()


def test_clock_get_and_switch_time_scale(fresh: Any) -> None:
    sim, c = fresh
    body = c.get("/_sim/clock").json()
    assert body["timeScale"] is None
    assert datetime.fromisoformat(body["now"].replace("Z", "+00:00")).tzinfo is not None
    r = c.put("/_sim/clock", json={"timeScale": 1})
    assert r.status_code == 200
    assert r.json()["timeScale"] == 1.0
    assert sim.runtime.clock.time_scale == 1.0
    assert c.put("/_sim/clock", json={"timeScale": None}).json()["timeScale"] is None


def test_real_time_leases_overlap_and_the_clock_leaps_after_the_last(fresh: Any) -> None:
    # Two clients (xdist workers) on one simulator: the first to finish must not put the clock
    # back to virtual time under the other.
    sim, c = fresh
    first = c.post("/_sim/clock/real-time")
    assert first.status_code == 201
    assert first.json()["expiresInSeconds"] == 600
    assert first.json()["timeScale"] == 1.0
    second = c.post("/_sim/clock/real-time", json={"seconds": 30}).json()
    assert second["realTimeLeases"] == 2
    assert c.delete(f"/_sim/clock/real-time/{first.json()['lease']}").status_code == 204
    assert c.get("/_sim/clock").json()["timeScale"] == 1.0  # the other lease still holds it
    assert c.delete(f"/_sim/clock/real-time/{first.json()['lease']}").status_code == 404  # returned
    assert c.delete(f"/_sim/clock/real-time/{second['lease']}").status_code == 204
    after = c.get("/_sim/clock").json()
    assert (after["timeScale"], after["realTimeLeases"]) == (None, 0)
    assert sim.runtime.clock.virtual


def test_a_real_time_lease_leaves_an_explicit_scale_alone_and_expires(fresh: Any) -> None:
    _, c = fresh
    c.put("/_sim/clock", json={"timeScale": 2})
    lease = c.post("/_sim/clock/real-time", json={"seconds": 1}).json()
    assert lease["timeScale"] == 2.0  # a clock already running scaled keeps its scale
    c.put("/_sim/clock", json={"timeScale": None})
    held = c.post("/_sim/clock/real-time", json={"seconds": 1}).json()
    assert held["timeScale"] == 1.0
    time.sleep(1.2)  # both are past their time: given back on the next look
    after = c.get("/_sim/clock").json()
    assert (after["timeScale"], after["realTimeLeases"]) == (None, 0)
    assert c.delete(f"/_sim/clock/real-time/{held['lease']}").status_code == 404


@pytest.mark.parametrize("body", [{"seconds": 0}, {"seconds": 3601}, {"seconds": 1.5}, {"seconds": True}])
def test_a_real_time_lease_of_a_bad_length_is_400_and_holds_nothing(fresh: Any, body: dict[str, Any]) -> None:
    sim, c = fresh
    r = c.post("/_sim/clock/real-time", json=body)
    assert r.status_code == 400
    assert "seconds" in r.json()["description"]
    assert c.get("/_sim/clock").json()["realTimeLeases"] == 0
    assert sim.runtime.clock.virtual


def test_clock_without_a_settable_scale_is_409(fresh: Any) -> None:
    sim, c = fresh

    class Fixed:
        def now(self) -> datetime:
            return datetime(2026, 1, 1, tzinfo=UTC)

    original = sim.runtime.clock
    sim.runtime.clock = Fixed()
    try:
        assert c.get("/_sim/clock").json() == {
            "now": "2026-01-01T00:00:00.000Z",
            "timeScale": None,
            "realTimeLeases": 0,
        }
        r = c.put("/_sim/clock", json={"timeScale": 1})
        assert r.status_code == 409
        assert set(r.json()) == {"type", "description", "id"}
        assert c.post("/_sim/clock/real-time").status_code == 409
    finally:
        sim.runtime.clock = original


def test_account_limits_round_trip(fresh: Any) -> None:
    sim, c = fresh
    r = c.put(f"/_sim/accounts/{ACCOUNT}/limits", json={"callsPerSecond": 5, "maxCallQueueSize": 10})
    assert r.json() == {"callsPerSecond": 5.0, "maxConcurrentCalls": None, "maxCallQueueSize": 10}
    account: Account = sim.store.accounts[ACCOUNT]
    assert account.calls_per_second == 5.0
    stats = httpx.get(f"{sim.base_url}/accounts/{ACCOUNT}/statistics", auth=AUTH).json()
    assert stats["maxCallQueueSize"] == 10
    assert c.get("/_sim/limits").json() == {"callsPerSecond": None, "maxConcurrentCalls": None}


def test_changing_a_password_revokes_the_old_credentials(fresh: Any) -> None:
    sim, c = fresh
    url = f"{sim.base_url}/accounts/{ACCOUNT}/statistics"
    assert httpx.get(url, auth=AUTH).status_code == 200  # now remembered
    account = c.get(f"/_sim/accounts/{ACCOUNT}").json()
    account["password"] = "rotated"
    assert c.put(f"/_sim/accounts/{ACCOUNT}", json=account).status_code == 200
    assert httpx.get(url, auth=AUTH).status_code == 401
    assert httpx.get(url, auth=("bw-user", "rotated")).status_code == 200


def test_masked_secrets_sent_back_keep_the_stored_ones(fresh: Any) -> None:
    sim, c = fresh
    c.put(
        f"/_sim/accounts/{ACCOUNT}/applications/hooks",
        json={"callbackUsername": "u", "callbackPassword": "s3"},
    )
    account = c.get(f"/_sim/accounts/{ACCOUNT}").json()
    assert account["password"] == "*****"
    assert c.put(f"/_sim/accounts/{ACCOUNT}", json=account).status_code == 200
    stored = sim.store.accounts[ACCOUNT]
    assert stored.password == "bw-pass"
    assert stored.applications["hooks"].callback_password == "s3"
    app = c.get(f"/_sim/accounts/{ACCOUNT}/applications/hooks").json()
    assert c.put(f"/_sim/accounts/{ACCOUNT}/applications/hooks", json=app).status_code == 200
    assert stored.applications["hooks"].callback_password == "s3"
