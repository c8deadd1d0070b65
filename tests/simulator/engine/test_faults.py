"""What happens when the app misbehaves: 500s, slowness, garbage, invalid BXML, nobody listening."""

from __future__ import annotations

import socket
import time

from werkzeug import Request, Response

from .conftest import Harness


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/answer"


def test_fallback_url_is_used_when_the_primary_answers_500(harness: Harness) -> None:
    harness.app.reply("/answer", lambda _: Response("boom", status=500))
    harness.app.reply("/fallback", "<Response><Hangup/></Response>")
    call_id = harness.create_call(answerFallbackUrl=harness.app.url("/fallback"))
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "hangup"
    paths = [h.path for h in harness.app.events() if h.event == "answer"]
    assert paths == ["/answer", "/fallback"]


def test_500_without_fallback_ends_the_call_with_callback_error(harness: Harness) -> None:
    harness.app.reply("/answer", lambda _: Response("boom", status=503))
    call_id = harness.create_call()
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "callback-error"
    disconnect = harness.app.wait_event("disconnect")[0]
    assert disconnect.body["cause"] == "callback-error"
    assert "503" in disconnect.body["errorMessage"]


def test_slow_app_hits_the_callback_timeout(harness: Harness) -> None:
    def slow(_: Request) -> Response:
        time.sleep(1.5)
        return Response("<Response/>", content_type="application/xml")

    harness.app.reply("/answer", slow)
    call_id = harness.create_call(callbackTimeout=1)
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "callback-error"
    assert "no answer within 1 s" in state["errorMessage"]


def test_garbage_and_invalid_bxml_end_with_invalid_bxml(harness: Harness) -> None:
    harness.app.reply("/answer", "this is not xml <<<")
    harness.app.reply("/answer2", '<Response><Pause duration="0"/></Response>')
    harness.app.reply("/answer3", "<Response><Conference>x</Conference></Response>")
    first = harness.create_call()
    second = harness.create_call(answer="/answer2")
    for call_id in (first, second):
        state = harness.wait_ended(call_id)
        assert state["disconnectCause"] == "invalid-bxml"
        assert state["errorMessage"]
    disconnects = harness.app.wait_event("disconnect", count=2)
    assert {d.body["cause"] for d in disconnects} == {"invalid-bxml"}
    assert all(d.body["errorMessage"] for d in disconnects)


def test_transfer_answer_bxml_is_checked_in_its_context(harness: Harness) -> None:
    harness.app.reply(
        "/answer",
        '<Response><Transfer transferCompleteUrl="/complete">'
        '<PhoneNumber transferAnswerUrl="/b-answer" transferDisconnectUrl="/b-gone">+19995550000'
        "</PhoneNumber></Transfer></Response>",
    )
    harness.app.reply("/b-answer", "<Response><Conference>nope</Conference></Response>")
    harness.app.reply("/complete", "<Response><Hangup/></Response>")
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    disconnect = harness.app.wait_event("transferDisconnect")[0]
    assert disconnect.body["cause"] == "invalid-bxml"


def test_app_not_listening_gives_callback_error(harness: Harness) -> None:
    body = {
        "from": "+19195550100",
        "to": "+19995550000",
        "applicationId": "11111111-1111-4111-8111-111111111111",
        "answerUrl": _closed_port_url(),
        "disconnectUrl": harness.app.url("/disconnect"),
    }
    response = harness.http.post("/accounts/9900000/calls", json=body)
    call_id = response.json()["callId"]
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "callback-error"
    assert harness.app.wait_event("disconnect")[0].body["cause"] == "callback-error"


def test_async_events_are_retried_once_and_failures_do_not_stop_the_call(harness: Harness) -> None:
    harness.app.reply("/answer", '<Response><Pause duration="2"/></Response>')
    body = {
        "from": "+19195550100",
        "to": "+19995550000",
        "applicationId": "11111111-1111-4111-8111-111111111111",
        "answerUrl": harness.app.url("/answer"),
        "disconnectUrl": _closed_port_url(),
    }
    call_id = harness.http.post("/accounts/9900000/calls", json=body).json()["callId"]
    state = harness.wait_ended(call_id, webhook=False)
    assert state["disconnectCause"] == "hangup"
    harness.app.wait(lambda: any(not s.ok and s.event == "disconnect" for s in harness.engine.sent))
    assert harness.engine.deliverer.failed == 1
    assert harness.engine.deliverer.attempts[body["disconnectUrl"]] == 2  # the first try and one retry
    assert harness.engine.deliverer.attempts[body["answerUrl"]] == 1


def test_fallback_after_refused_connection_but_not_after_a_4xx(harness: Harness) -> None:
    harness.app.reply("/fallback", "<Response><Hangup/></Response>")
    harness.app.reply("/missing", lambda _: Response("no such page", status=404))
    body = {
        "from": "+19195550100",
        "to": "+19995550000",
        "applicationId": "11111111-1111-4111-8111-111111111111",
        "answerUrl": _closed_port_url(),
        "answerFallbackUrl": harness.app.url("/fallback"),
        "disconnectUrl": harness.app.url("/disconnect"),
    }
    refused = harness.http.post("/accounts/9900000/calls", json=body).json()["callId"]
    assert harness.wait_ended(refused)["disconnectCause"] == "hangup"
    assert [h.path for h in harness.app.events() if h.event == "answer"] == ["/fallback"]
    body["answerUrl"] = harness.app.url("/missing")
    missing = harness.http.post("/accounts/9900000/calls", json=body).json()["callId"]
    state = harness.wait_ended(missing)
    assert state["disconnectCause"] == "callback-error"
    assert "404" in state["errorMessage"]
    assert [h.path for h in harness.app.events() if h.event == "answer"] == ["/fallback", "/missing"]
