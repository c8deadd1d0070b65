"""The Calls operations over HTTP: statuses, bodies, headers, validation, rate limits, paging."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from conformance.simulator import Simulator
from conformance.simulator.lifecycle import LifecycleEngine

from .conftest import (
    ACCOUNT,
    APP,
    AUTH,
    OTHER_AUTH,
    RecordingEngine,
    create_body,
    seed_call,
)

CALL_ID = re.compile(r"^c-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def wait_state(client: httpx.Client, call_id: str, state: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/accounts/{ACCOUNT}/calls/{call_id}").json()
        if body["state"] == state or time.monotonic() > deadline:
            return body
        time.sleep(0.01)


def test_create_call_answers_201_with_location_and_masked_passwords(client: httpx.Client) -> None:
    body = create_body(
        password="secret", username="me", fallbackPassword="fb", tag="t1", callTimeout=12.5, priority=2
    )
    r = client.post(f"/accounts/{ACCOUNT}/calls", json=body)
    assert r.status_code == 201
    data = r.json()
    assert CALL_ID.match(data["callId"])
    assert len(data["callId"]) == 47
    assert r.headers["location"] == data["callUrl"]
    assert data["callUrl"] == f"{client.base_url}/accounts/{ACCOUNT}/calls/{data['callId']}"
    assert data["password"] == "*****"
    assert data["fallbackPassword"] == "*****"
    assert data["username"] == "me"
    assert (data["tag"], data["callTimeout"], data["priority"]) == ("t1", 12.5, 2)
    assert (data["answerMethod"], data["disconnectMethod"], data["callbackTimeout"]) == ("POST", "POST", 15.0)
    assert data["accountId"] == ACCOUNT
    assert data["applicationId"] == APP


def test_api_v2_prefix_serves_the_same_operations_and_urls_keep_it(client: httpx.Client) -> None:
    r = client.post(f"/api/v2/accounts/{ACCOUNT}/calls", json=create_body())
    assert r.status_code == 201
    assert "/api/v2/accounts/" in r.headers["location"]
    assert client.get(r.headers["location"]).status_code == 200


def test_lifecycle_reaches_answered_then_completed_hangs_up(client: httpx.Client) -> None:
    call_id = client.post(f"/accounts/{ACCOUNT}/calls", json=create_body()).json()["callId"]
    state = wait_state(client, call_id, "answered")
    assert state["state"] == "answered"
    assert state["startTime"] is not None
    assert state["answerTime"] >= state["startTime"]
    r = client.post(f"/accounts/{ACCOUNT}/calls/{call_id}", json={"state": "completed"})
    assert r.status_code == 200
    assert r.content == b""
    state = client.get(f"/accounts/{ACCOUNT}/calls/{call_id}").json()
    assert (state["state"], state["disconnectCause"]) == ("disconnected", "hangup")
    assert state["endTime"] is not None


def test_modifying_an_ended_call_is_409(client: httpx.Client, sim: Simulator) -> None:
    call = seed_call(sim.store, state="disconnected")
    url = f"/accounts/{ACCOUNT}/calls/{call.call_id}"
    r = client.post(url, json={"state": "completed"})
    assert r.status_code == 409
    assert r.json() == {
        "type": "validation",
        "description": f"Call [{call.call_id}] cannot be modified in its current state",
        "id": "",
    }
    assert client.post(url, json={"redirectUrl": "https://example.test/r"}).status_code == 409
    xml = '<?xml version="1.0"?><Response><Hangup/></Response>'
    r = client.put(f"{url}/bxml", content=xml, headers={"content-type": "application/xml"})
    assert r.status_code == 409


def test_redirect_reaches_the_engine_and_sets_the_tag(quiet_sim: Simulator) -> None:
    call = seed_call(quiet_sim.store, state="answered")
    with httpx.Client(base_url=quiet_sim.base_url, auth=AUTH) as c:
        r = c.post(
            f"/accounts/{ACCOUNT}/calls/{call.call_id}", json={"redirectUrl": "https://e.test/x", "tag": "n"}
        )
    assert r.status_code == 200
    engine = quiet_sim.runtime.engine
    assert isinstance(engine, RecordingEngine)
    name, args = engine.calls[-1]
    assert name == "call_redirected"
    assert args[1].url == "https://e.test/x"
    assert call.tag == "n"


def test_engine_refusal_becomes_409_and_leaves_the_tag(client: httpx.Client, sim: Simulator) -> None:
    call = seed_call(sim.store, state="initiated", tag="old")
    r = client.post(
        f"/accounts/{ACCOUNT}/calls/{call.call_id}", json={"redirectUrl": "https://e.test/x", "tag": "n"}
    )
    assert r.status_code == 409
    assert r.json()["description"] == f"Call [{call.call_id}] cannot be modified in its current state"
    assert call.tag == "old"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"redirectUrl": "https://e.test/x", "state": "completed"}, "redirectUrl"),
        ({"tag": "x", "state": "completed"}, "tag"),
        ({"state": "active"}, "redirectUrl"),
        ({}, "redirectUrl"),
        ({"state": "paused", "redirectUrl": "https://e.test/x"}, "state"),
        ({"redirectUrl": "ftp://e.test/x"}, "redirectUrl"),
        ({"redirectUrl": "https://e.test/x", "redirectMethod": "PUT"}, "redirectMethod"),
        ({"redirectUrl": "https://e.test/x", "tag": "t" * 4097}, "tag"),
        ({"redirectUrl": "https://e.test/x", "username": "u" * 1025}, "username"),
    ],
)
def test_update_call_rules(
    quiet_client: httpx.Client, quiet_sim: Simulator, body: dict[str, Any], field: str
) -> None:
    call = seed_call(quiet_sim.store, state="answered")
    before = quiet_sim.store.fingerprint()
    r = quiet_client.post(f"/accounts/{ACCOUNT}/calls/{call.call_id}", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["description"].startswith(f"Invalid {field}:")
    assert quiet_sim.store.fingerprint() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"to": "5551234"}, "to"),
        ({"to": "+0123"}, "to"),
        ({"to": 15551234}, "to"),
        ({"from": "sip:a@b.example"}, "from"),
        ({"from": None}, "from"),
        ({"answerUrl": "javascript:alert(1)"}, "answerUrl"),
        ({"answerUrl": "https://e.test/" + "a" * 2040}, "answerUrl"),
        ({"answerUrl": "https://exa mple.test/"}, "answerUrl"),
        ({"disconnectUrl": "mailto:x@y.z"}, "disconnectUrl"),
        ({"answerFallbackUrl": "//no-scheme"}, "answerFallbackUrl"),
        ({"callTimeout": 0.5}, "callTimeout"),
        ({"callTimeout": 301}, "callTimeout"),
        ({"callTimeout": "30"}, "callTimeout"),
        ({"callbackTimeout": 26}, "callbackTimeout"),
        ({"callbackTimeout": True}, "callbackTimeout"),
        ({"priority": 0}, "priority"),
        ({"priority": 6}, "priority"),
        ({"priority": 2.5}, "priority"),
        ({"tag": "x" * 4097}, "tag"),
        ({"username": "u" * 1025}, "username"),
        ({"password": "p" * 1025}, "password"),
        ({"answerMethod": "PUT"}, "answerMethod"),
        ({"applicationId": "33333333-3333-4333-8333-333333333333"}, "applicationId"),
        ({"applicationId": "22222222-2222-4222-8222-222222222222"}, "applicationId"),
        ({"privacy": True, "displayName": "Bob"}, "displayName"),
        ({"displayName": "a\nb"}, "displayName"),
        ({"displayName": "d" * 257}, "displayName"),
        ({"uui": "abc"}, "uui"),
        ({"machineDetection": "sync"}, "machineDetection"),
        ({"machineDetection": {"mode": "later"}}, "machineDetection.mode"),
        ({"machineDetection": {"callbackUrl": "nope"}}, "machineDetection.callbackUrl"),
        ({"machineDetection": {"detectionTimeout": -1}}, "machineDetection.detectionTimeout"),
    ],
)
def test_create_call_validation_names_the_field(
    quiet_client: httpx.Client, quiet_sim: Simulator, overrides: dict[str, Any], field: str
) -> None:
    before = quiet_sim.store.fingerprint()
    r = quiet_client.post(f"/accounts/{ACCOUNT}/calls", json=create_body(**overrides))
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"] == "validation"
    assert body["description"].startswith(f"Invalid {field}:"), body
    assert quiet_sim.store.fingerprint() == before


def test_missing_required_fields_are_named(quiet_client: httpx.Client) -> None:
    for field in ("to", "from", "applicationId", "answerUrl"):
        body = create_body()
        del body[field]
        r = quiet_client.post(f"/accounts/{ACCOUNT}/calls", json=body)
        assert r.status_code == 400
        assert r.json()["description"] == f"Invalid {field}: is required"


def test_valid_variants_are_accepted(quiet_client: httpx.Client) -> None:
    for overrides in (
        {"to": "sip:alice@sip.example.test"},
        {"callTimeout": 1, "callbackTimeout": 25, "priority": 1},
        {"privacy": True, "displayName": "Anonymous"},
        {"uui": "eyJhbGciOiJIUzI1NiJ9;encoding=jwt,abcd;encoding=hex"},
        {"machineDetection": {"mode": "sync", "detectionTimeout": 5, "callbackUrl": "https://e.test/md"}},
        {"answerUrl": "http://127.0.0.1:9/answer?x=1&y=%20"},
        {"tag": "", "displayName": None, "disconnectUrl": None},
    ):
        r = quiet_client.post(f"/accounts/{ACCOUNT}/calls", json=create_body(**overrides))
        assert r.status_code == 201, (overrides, r.text)


def test_auth_errors(sim: Simulator) -> None:
    url = f"{sim.base_url}/accounts/{ACCOUNT}/calls"
    r = httpx.get(url)
    assert r.status_code == 401
    assert r.json() == {
        "type": "authentication-error",
        "description": "The credentials provided were invalid",
        "id": None,
    }
    assert httpx.get(url, auth=("bw-user", "wrong")).status_code == 401
    assert httpx.get(url, headers={"authorization": "Basic !!!"}).status_code == 401
    assert httpx.get(url, headers={"authorization": "Bearer abc"}).status_code == 401
    r = httpx.get(url, auth=OTHER_AUTH)
    assert r.status_code == 403
    assert r.json()["type"] == "authorization-error"
    assert httpx.get(f"{sim.base_url}/accounts/1234567/calls", auth=AUTH).status_code == 403


def test_unknown_ids_are_404_in_the_documented_style(client: httpx.Client) -> None:
    r = client.get(f"/accounts/{ACCOUNT}/calls/c-nope")
    assert r.status_code == 404
    assert r.json() == {"type": "validation", "description": "Call [c-nope] not found", "id": None}
    assert (
        client.get(f"/accounts/{ACCOUNT}/conferences/conf-x").json()["description"]
        == "Conference [conf-x] not found"
    )
    assert client.get("/nowhere").status_code == 404


def test_another_accounts_call_is_not_visible(sim: Simulator) -> None:
    call = seed_call(sim.store, account="9900001")
    r = httpx.get(f"{sim.base_url}/accounts/{ACCOUNT}/calls/{call.call_id}", auth=AUTH)
    assert r.status_code == 404


def test_405_carries_allow(client: httpx.Client) -> None:
    r = client.delete(f"/accounts/{ACCOUNT}/calls")
    assert r.status_code == 405
    assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert r.json()["description"] == "Method Not Allowed"
    r = client.patch(f"/api/v2/accounts/{ACCOUNT}/calls/c-x/bxml")
    assert r.status_code == 405
    assert "PUT" in r.headers["allow"]


def test_list_calls_filters_and_pages_with_link_header(quiet_sim: Simulator) -> None:
    store = quiet_sim.store
    marker = "+19195550177"
    made = [seed_call(store, to=marker) for _ in range(5)]
    made[1].disconnect_cause = "busy"
    with httpx.Client(base_url=quiet_sim.base_url, auth=AUTH) as c:
        r = c.get(f"/accounts/{ACCOUNT}/calls", params={"to": marker, "pageSize": 2})
        assert r.status_code == 200
        seen = [x["callId"] for x in r.json()]
        pages = 1
        while "link" in r.headers:
            link = r.headers["link"]
            assert link.endswith('>; rel="next"')
            r = c.get(link[1 : link.index(">")])
            assert r.status_code == 200
            seen += [x["callId"] for x in r.json()]
            pages += 1
        assert seen == [m.call_id for m in made]
        assert pages == 3
        r = c.get(f"/accounts/{ACCOUNT}/calls", params={"to": marker, "disconnectCause": "busy"})
        assert [x["callId"] for x in r.json()] == [made[1].call_id]
        later = made[0].start_time
        assert later is not None
        r = c.get(f"/accounts/{ACCOUNT}/calls", params={"to": marker, "minStartTime": "2999-01-01T00:00:00Z"})
        assert r.json() == []
        r = c.get(
            f"/accounts/{ACCOUNT}/calls",
            params={"to": marker, "maxStartTime": later.isoformat().replace("+00:00", "Z")},
        )
        assert made[0].call_id in [x["callId"] for x in r.json()]
        for bad in ({"pageSize": "abc"}, {"pageSize": 0}, {"pageSize": 10001}, {"minStartTime": "yesterday"}):
            r = c.get(f"/accounts/{ACCOUNT}/calls", params=bad)
            assert r.status_code == 400, bad
            assert r.json()["description"].startswith(f"Invalid {next(iter(bad))}:")


def test_rate_limits_answer_429_with_retry_after(sim: Simulator) -> None:
    with (
        Simulator(engine_factory=LifecycleEngine, calls_per_second=2) as limited,
        httpx.Client(base_url=limited.base_url, auth=AUTH) as c,
    ):
        statuses = [c.post(f"/accounts/{ACCOUNT}/calls", json=create_body()) for _ in range(3)]
        assert [r.status_code for r in statuses[:2]] == [201, 201]
        r = statuses[2]
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert r.json() == {
            "type": "error",
            "description": "Account call creation rate limit exceeded",
            "id": "",
        }
        assert len(limited.store.calls) == 2
        # concurrent limit, set through the control API for this account only
        c.put("/_sim/limits", json={"callsPerSecond": None})
        r = c.put(f"/_sim/accounts/{ACCOUNT}/limits", json={"maxConcurrentCalls": 2, "callsPerSecond": None})
        assert r.status_code == 200
        assert r.json()["maxConcurrentCalls"] == 2
        r = c.post(f"/accounts/{ACCOUNT}/calls", json=create_body())
        assert r.status_code == 429
        assert r.json()["description"] == "Account concurrent call limit exceeded"
        assert "retry-after" in r.headers
        first = next(iter(limited.store.calls))
        assert c.post(f"/accounts/{ACCOUNT}/calls/{first}", json={"state": "completed"}).status_code == 200
        assert c.post(f"/accounts/{ACCOUNT}/calls", json=create_body()).status_code == 201


def test_replace_bxml_validates_in_call_context(quiet_client: httpx.Client, quiet_sim: Simulator) -> None:
    call = seed_call(quiet_sim.store, state="answered")
    url = f"/accounts/{ACCOUNT}/calls/{call.call_id}/bxml"
    good = '<?xml version="1.0" encoding="UTF-8"?><Bxml><SpeakSentence>hi</SpeakSentence></Bxml>'
    r = quiet_client.put(url, content=good, headers={"content-type": "application/xml"})
    assert r.status_code == 204, r.text
    r = quiet_client.put(url, content="<Bxml><Nope/>", headers={"content-type": "application/xml"})
    assert r.status_code == 400
    assert r.json()["description"].startswith("Invalid BXML:")
    r = quiet_client.put(url, content=good, headers={"content-type": "application/json"})
    assert r.status_code == 415


def test_statistics(client: httpx.Client) -> None:
    r = client.get(f"/accounts/{ACCOUNT}/statistics")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"currentCallQueueSize", "maxCallQueueSize"}
    assert body["maxCallQueueSize"] > 0


def test_health(sim: Simulator) -> None:
    r = httpx.get(f"{sim.base_url}/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["version"]


@pytest.mark.parametrize(("priority", "status"), [(2.0, 201), (2, 201), (2.5, 400), (True, 400), (6, 400)])
def test_priority_is_an_integer_as_json_reads_it(client: httpx.Client, priority: object, status: int) -> None:
    response = client.post(f"/accounts/{ACCOUNT}/calls", json=create_body(priority=priority))
    assert response.status_code == status, response.text
    if status == 201:
        assert response.json()["priority"] == 2


def test_machine_detection_thresholds_cannot_be_negative(client: httpx.Client) -> None:
    body = create_body(machineDetection={"mode": "async", "speechThreshold": -1})
    response = client.post(f"/accounts/{ACCOUNT}/calls", json=body)
    assert response.status_code == 400
    assert "speechThreshold" in response.json()["description"]


def test_replace_bxml_accepts_documents_that_break_only_advisory_rules(
    quiet_client: httpx.Client, quiet_sim: Simulator
) -> None:
    from conformance import bxml

    call = seed_call(quiet_sim.store, state="answered")
    url = f"/accounts/{ACCOUNT}/calls/{call.call_id}/bxml"
    # Credentials over plain http: the docs ask for https, the platform's enforcement is unconfirmed.
    advisory = (
        '<Response><Record username="u" password="p" recordCompleteUrl="http://127.0.0.1:9/done"/></Response>'
    )
    assert list(bxml.iter_errors(advisory)) == []
    assert [e.rule for e in bxml.iter_warnings(advisory)] == ["credentials-need-https"]
    assert bxml.first_blocking_error(advisory) is None
    r = quiet_client.put(url, content=advisory, headers={"content-type": "application/xml"})
    assert r.status_code == 204, r.text
