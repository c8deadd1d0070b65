"""Outbound calls to simulated far ends: answer, BXML, implicit hangup, disconnect causes."""

from __future__ import annotations

from datetime import datetime

from .conftest import Harness


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_answer_then_implicit_hangup(harness: Harness) -> None:
    harness.app.reply("/answer", "<Response><SpeakSentence>Hello there</SpeakSentence></Response>")
    call_id = harness.create_call(tag="t1")
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "hangup"
    answer = harness.app.wait_event("answer")[0]
    disconnect = harness.app.wait_event("disconnect")[0]
    assert answer.body["callId"] == call_id
    assert answer.body["tag"] == "t1"
    assert disconnect.body["cause"] == "hangup"
    assert disconnect.path == "/disconnect"


def test_far_end_outcomes(harness: Harness) -> None:
    cases = {
        "+19995550001": "busy",
        "+19995550003": "rejected",
        "+19995550002": "timeout",
    }
    ids = {number: harness.create_call(to=number, callTimeout=5) for number in cases}
    for number, cause in cases.items():
        state = harness.wait_ended(ids[number])
        assert state["disconnectCause"] == cause, number
        assert state.get("answerTime") is None
        disconnect = harness.app.wait_event("disconnect", callId=ids[number])[0]
        assert disconnect.body["cause"] == cause
        assert "answerTime" not in disconnect.body
    timeout_call = harness.state(ids["+19995550002"])
    waited = (_t(timeout_call["endTime"]) - _t(timeout_call["startTime"])).total_seconds()
    assert abs(waited - 5) < 0.5
    assert "answer" not in harness.app.names()


def test_person_who_hangs_up_after_five_seconds(harness: Harness) -> None:
    harness.app.reply("/answer", '<Response><Pause duration="60"/></Response>')
    call_id = harness.create_call(to="+19995550005")
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "hangup"
    talked = (_t(state["endTime"]) - _t(state["answerTime"])).total_seconds()
    assert abs(talked - 5) < 0.5


def test_ten_minutes_of_pause_take_virtual_time(harness: Harness) -> None:
    harness.app.reply("/answer", '<Response><Pause duration="600"/></Response>')
    call_id = harness.create_call()
    state = harness.wait_ended(call_id, timeout=20)
    talked = (_t(state["endTime"]) - _t(state["answerTime"])).total_seconds()
    assert 600 <= talked < 601
    disconnect = harness.app.wait_event("disconnect")[0]
    answer = harness.app.wait_event("answer")[0]
    gap = (_t(disconnect.body["eventTime"]) - _t(answer.body["eventTime"])).total_seconds()
    assert 600 <= gap < 601


def test_tags_follow_create_call_attributes_and_tag_verb(harness: Harness) -> None:
    harness.app.reply(
        "/answer",
        '<Response><Redirect redirectUrl="/second" tag="from-attribute"/></Response>',
    )
    harness.app.reply("/second", '<Response><Tag> from-verb </Tag><Redirect redirectUrl="third"/></Response>')
    harness.app.reply("/third", "<Response><Tag></Tag><Redirect redirectUrl='/fourth'/></Response>")
    call_id = harness.create_call(tag="from-create")
    harness.wait_ended(call_id)
    hooks = harness.app.events()
    by_path = {h.path: h for h in hooks}
    assert by_path["/answer"].body["tag"] == "from-create"
    assert by_path["/second"].body["tag"] == "from-attribute"
    assert by_path["/third"].body["tag"] == "from-verb"  # relative URL resolved against /second
    assert "tag" not in by_path["/fourth"].body
    assert "tag" not in by_path["/disconnect"].body
    times = [_t(h.body["eventTime"]) for h in hooks if "eventTime" in h.body]
    assert times == sorted(times)


def test_get_method_sends_query_parameters_with_basic_auth(harness: Harness) -> None:
    harness.app.reply("/answer", "<Response><Hangup/></Response>")
    call_id = harness.create_call(answerMethod="GET", username="hook", password="secret")
    harness.wait_ended(call_id)
    answer = harness.app.wait_event("answer")[0]
    assert answer.method == "GET"
    assert answer.body["callId"] == call_id
    assert answer.headers["Authorization"].startswith("Basic ")
    import base64

    decoded = base64.b64decode(answer.headers["Authorization"][6:]).decode()
    assert decoded == "hook:secret"


def test_call_state_is_live_and_the_clock_switches_through_the_control_api(harness: Harness) -> None:
    switched = harness.http.put("/_sim/clock", json={"timeScale": 1})  # real time: the call stays up
    assert switched.status_code == 200
    assert switched.json()["timeScale"] == 1
    harness.app.reply("/answer", '<Response><Pause duration="30"/></Response>')
    call_id = harness.create_call()
    harness.app.wait(lambda: harness.state(call_id)["state"] == "answered")
    live = harness.state(call_id)
    assert live["answerTime"]
    assert "endTime" not in live or live["endTime"] is None
    harness.http.post(f"/accounts/9900000/calls/{call_id}", json={"state": "completed"})
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "hangup"
    talked = (_t(state["endTime"]) - _t(state["answerTime"])).total_seconds()
    assert talked < 30
    back = harness.http.put("/_sim/clock", json={"timeScale": None})
    assert back.json()["timeScale"] is None
    harness.app.reply("/answer2", '<Response><Pause duration="3600"/></Response>')
    later = harness.create_call(answer="/answer2")
    final = harness.wait_ended(later)
    assert (_t(final["endTime"]) - _t(final["answerTime"])).total_seconds() >= 3600
