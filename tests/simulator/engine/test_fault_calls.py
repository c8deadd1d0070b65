"""Every call ends with exactly one disconnect webhook and the documented cause, whatever fails.

The answer webhook of each call goes to one path of :class:`FaultApp` (see its table): refused,
reset, stalled, endless, oversized, badly encoded, redirected, erroring and unrequestable replies.
The causes follow the platform's docs: ``callback-error`` when the app's callback fails, is
unreachable or gives an invalid response; ``invalid-bxml`` for a reply that is not valid BXML.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.simulator.engine import extras, verbs

from .conftest import ACCOUNT, APP_ID, CALLER, PERSON, Harness
from .faults_app import EXPECTED_CAUSE, STALLING, FaultApp

# A part of the disconnect's errorMessage for the classes whose reason is worth naming.
MESSAGE_PART = {
    "/slow-head": "no answer within 1 s",
    "/slow-body": "no answer within 1 s",
    "/endless": "no answer within 1 s",
    "/oversized": "larger than 1048576 bytes",
    "/bad-utf8": "not valid UTF-8",
    "/redirect": "HTTP 302",
    "/missing": "HTTP 404",
    "/broken": "HTTP 500",
    "/bad-port": "cannot request",
}


@pytest.fixture
def faults() -> Iterator[FaultApp]:
    with FaultApp() as app:
        yield app


def _until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)


def _create(harness: Harness, answer_url: str, status_url: str, **extra: Any) -> str:
    body = {
        "from": CALLER,
        "to": PERSON,
        "applicationId": APP_ID,
        "answerUrl": answer_url,
        "disconnectUrl": status_url,
        # Short only where the app stalls: a busy machine must not turn a good reply into a timeout.
        "callbackTimeout": 1 if any(answer_url.endswith(path) for path in STALLING) else 15,
        **extra,
    }
    # json.dumps escapes a lone surrogate as \\ud800, as a client in another language would send it.
    response = harness.http.post(
        f"/accounts/{ACCOUNT}/calls", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    call_id: str = response.json()["callId"]
    return call_id


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _settled() -> int:
    """The descriptor count once it stays the same for a tenth of a second."""
    before = _open_descriptors()
    time.sleep(0.1)
    return before if _open_descriptors() == before else -1


def _sent_disconnects(harness: Harness) -> tuple[Counter[str], set[str]]:
    """Disconnect webhooks the engine sent, by call id, and the calls whose disconnect the app took."""
    sent = [s for s in list(harness.engine.sent) if s.event == "disconnect" and s.call_id is not None]
    return Counter(str(s.call_id) for s in sent), {str(s.call_id) for s in sent if s.ok}


def _batch(harness: Harness, faults: FaultApp) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """One call per fault class, all at once; each call's id and final state, once all are over.

    Checked here for every call: the engine sent exactly one disconnect webhook, and the app
    received it once when the delivery succeeded (a stalled call's disconnect has the same 1 s
    callback timeout, which a very busy machine may miss: then the app got none).
    """
    calls = {
        path: _create(
            harness, faults.refused_url() if path == "/refused" else faults.url(path), faults.url("/status")
        )
        for path in EXPECTED_CAUSE
    }
    _until(
        lambda: all(_sent_disconnects(harness)[0][call_id] >= 1 for call_id in calls.values()),
        f"a disconnect sent for every call; got {_sent_disconnects(harness)}",
    )
    _until(lambda: harness.engine.running_tasks() == 0, "the engine's tasks to finish")
    sent, delivered = _sent_disconnects(harness)
    received = faults.disconnects()
    assert {path: sent[call_id] for path, call_id in calls.items()} == dict.fromkeys(calls, 1)
    assert {path: received[call_id] for path, call_id in calls.items()} == {
        path: 1 if call_id in delivered else 0 for path, call_id in calls.items()
    }
    return calls, {path: harness.state(call_id) for path, call_id in calls.items()}


def test_each_fault_class_ends_its_call_once_with_the_documented_cause(
    harness: Harness, faults: FaultApp
) -> None:
    calls, states = _batch(harness, faults)
    assert {path: state["disconnectCause"] for path, state in states.items()} == EXPECTED_CAUSE
    webhooks = {str(p["callId"]): p for p in faults.received("/status")}
    assert len(webhooks) >= len(calls) - len(STALLING)  # only a stalled call's may be missed
    for path, call_id in calls.items():
        if call_id not in webhooks:
            continue
        assert webhooks[call_id]["cause"] == states[path]["disconnectCause"], path
        part = MESSAGE_PART.get(path)
        if part is not None:
            assert part in (webhooks[call_id].get("errorMessage") or ""), (path, webhooks[call_id])


def test_faulty_calls_leak_no_task_thread_or_descriptor(harness: Harness, faults: FaultApp) -> None:
    _batch(harness, faults)  # the first batch starts what is kept (the client's pool, the app's loop)
    faults.close_connections()  # idle keep-alive connections: both ends are in this process
    _until(lambda: _open_descriptors() == _settled(), "the descriptors to settle")
    threads, descriptors = threading.active_count(), _open_descriptors()
    _batch(harness, faults)  # which checks one disconnect a call
    assert harness.engine.running_tasks() == 0
    assert threading.active_count() == threads
    faults.close_connections()
    _until(
        lambda: _open_descriptors() <= descriptors,
        f"descriptors back to {descriptors} (now {_open_descriptors()})",
    )


def test_a_lone_surrogate_in_a_tag_sent_by_get_does_not_lose_the_call(
    harness: Harness, faults: FaultApp
) -> None:
    call_id = _create(
        harness,
        faults.url("/hangup"),
        faults.url("/status"),
        tag="caf\ud800e",
        answerMethod="GET",
        disconnectMethod="GET",
    )
    _until(lambda: faults.disconnects()[call_id] >= 1, "the disconnect webhook")
    _until(lambda: harness.engine.running_tasks() == 0, "the engine's tasks to finish")
    assert harness.state(call_id)["disconnectCause"] == "hangup"
    answer = faults.received("/hangup")[0]
    disconnect = faults.received("/status")[0]
    # What UTF-8 cannot encode goes as "?", as a Java platform's URL encoder sends it.
    assert answer["tag"] == disconnect["tag"] == "caf?e"
    assert faults.disconnects()[call_id] == 1


def test_a_reply_written_in_pieces_and_closed_is_read_whole(harness: Harness, faults: FaultApp) -> None:
    call_id = _create(harness, faults.url("/pieces"), faults.url("/status"))
    _until(lambda: faults.disconnects()[call_id] >= 1, "the disconnect webhook")
    state = harness.state(call_id)
    assert (state["disconnectCause"], state.get("errorMessage")) == ("hangup", None)


def test_a_bug_of_the_simulator_in_a_verb_is_application_error_once(
    harness: Harness, faults: FaultApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(leg: Any, document: Any) -> None:
        raise RuntimeError("planted bug")

    monkeypatch.setattr(verbs, "interpret", broken)
    call_id = _create(harness, faults.url("/hangup"), faults.url("/status"))
    _until(lambda: faults.disconnects()[call_id] >= 1, "the disconnect webhook")
    _until(lambda: harness.engine.running_tasks() == 0, "the engine's tasks to finish")
    disconnect = faults.received("/status")[0]
    assert (disconnect["cause"], faults.disconnects()[call_id]) == ("application-error", 1)
    assert "planted bug" in disconnect["errorMessage"]
    assert [e for e in harness.engine.errors if "planted bug" in e] == harness.engine.errors != []
    harness.engine.errors.clear()  # seen: the harness fails a test that leaves simulator errors


def test_a_failing_step_of_hanging_up_does_not_cost_the_disconnect(
    harness: Harness, faults: FaultApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(leg: Any) -> None:
        raise RuntimeError("planted bug in stopping streams")

    monkeypatch.setattr(extras, "stop_all_streams", broken)
    call_id = _create(harness, faults.url("/hangup"), faults.url("/status"))
    _until(lambda: faults.disconnects()[call_id] >= 1, "the disconnect webhook")
    _until(lambda: harness.engine.running_tasks() == 0, "the engine's tasks to finish")
    assert (harness.state(call_id)["disconnectCause"], faults.disconnects()[call_id]) == ("hangup", 1)
    assert len(harness.engine.errors) == 1
    assert "stopping streams" in harness.engine.errors[0]
    harness.engine.errors.clear()
