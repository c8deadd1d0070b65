"""Webhook flows of call control over loopback calls (marker ``flows``), on any target.

Outbound and inbound calls, unanswered calls (the simulator's far ends), Redirect and updateCall,
PUT BXML on a live call, tags, callback credentials and methods, fallbacks, invalid BXML and machine
detection.  Each test checks the webhooks as a partial order with field rules and every payload
against the contract (:mod:`conformance.suites.loopback`).  Sequences as the Voice API docs state them.
"""

from __future__ import annotations

import pytest

from conformance.suites.flowkit import HOLD, call_flow, parse_time, simulator_only
from conformance.suites.loopback import FAR_ENDS, HANGUP, Loopback
from conformance.webhooks import (
    Reply,
    carries_tag,
    count,
    equals,
)

pytestmark = pytest.mark.flows


# -------------------------------------------------------------------------------- outbound/inbound
@pytest.mark.sandbox_safe
def test_outbound_answered_and_hung_up(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    loop.answer_callee(HOLD)
    loop.answer_caller("<Response><SpeakSentence>hello</SpeakSentence><Hangup/></Response>")
    call_id = loop.place()
    received = loop.expect(
        call_flow(
            "outbound call answered and hung up",
            ["answer", "disconnect"],
            call_id,
            equals("cause", "hangup", events=["disconnect"]),
            equals("direction", "outbound"),
            equals("to", loop.callee),
            equals("from", loop.caller),
        )
    )
    disconnect = next(w for w in received if w.event_type == "disconnect" and w.call_id == call_id)
    payload = disconnect.payload or {}
    start, answer, end = (parse_time(payload.get(k)) for k in ("startTime", "answerTime", "endTime"))
    loop.require(
        start <= answer <= end,
        "outbound call answered and hung up",
        "startTime <= answerTime <= endTime",
        expected="startTime <= answerTime <= endTime",
        received={k: payload.get(k) for k in ("startTime", "answerTime", "endTime")},
    )
    state = loop.wait_state(call_id, "disconnected")
    loop.require(
        state.get("disconnectCause") == "hangup",
        "outbound call answered and hung up",
        "getCallState disconnectCause",
        expected="hangup",
        received=state.get("disconnectCause"),
    )


@pytest.mark.parametrize(
    ("far_end", "cause"), [("busy", "busy"), ("no-answer", "timeout"), ("rejects", "rejected")]
)
def test_unanswered_outbound_call(bw_loopback: Loopback, far_end: str, cause: str) -> None:
    loop = bw_loopback
    simulator_only(loop)
    call_id = loop.place(FAR_ENDS[far_end], callTimeout=5)
    loop.expect(
        call_flow(
            f"outbound call, far end {far_end}: disconnect only",
            ["disconnect"],
            call_id,
            equals("cause", cause),
        )
    )


@pytest.mark.sandbox_safe
def test_inbound_initiate(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    loop.answer_callee(
        "<Response><SpeakSentence>you reached the loopback</SpeakSentence><Hangup/></Response>"
    )
    loop.answer_caller(HOLD)
    loop.place()
    callee = loop.callee_id()
    loop.expect(
        call_flow(
            "inbound call: initiate then disconnect",
            ["initiate", "disconnect"],
            callee,
            equals("direction", "inbound"),
            equals("to", loop.callee),
            equals("from", loop.caller),
            equals("cause", "hangup", events=["disconnect"]),
        )
    )


# -------------------------------------------------------------------------------- redirects, updates
@pytest.mark.sandbox_safe
def test_redirect_verb(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    loop.answer_callee(HOLD)
    loop.answer_caller(f'<Response><Redirect redirectUrl="{loop.url("redirect")}"/></Response>')
    loop.script("redirect", HANGUP)
    call_id = loop.place()
    loop.expect(call_flow("Redirect verb", ["answer", "redirect", "disconnect"], call_id))


@pytest.mark.sandbox_safe
def test_update_call_redirect_then_complete(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "updateCall: redirect, then completed"
    loop.answer_callee(HOLD)
    loop.answer_caller(HOLD)
    loop.script("redirect", HOLD)
    with loop.real_time():
        call_id = loop.place()
        loop.wait_for("answer", call_id=call_id, where=flow_name)
        redirect = loop.update_call(call_id, {"state": "active", "redirectUrl": loop.url("redirect")})
        loop.require(
            redirect.status_code == 200, flow_name, "updateCall redirect answers 200",
            expected=200, received=f"{redirect.status_code} {redirect.text[:200]}",
        )  # fmt: skip
        loop.wait_for("redirect", call_id=call_id, where=flow_name)
        completed = loop.update_call(call_id, {"state": "completed"})
        loop.require(
            completed.status_code == 200, flow_name, "updateCall completed answers 200",
            expected=200, received=f"{completed.status_code} {completed.text[:200]}",
        )  # fmt: skip
        loop.expect(
            call_flow(
                flow_name,
                ["answer", "redirect", "disconnect"],
                call_id,
                equals("cause", "hangup", events=["disconnect"]),
            )
        )
    loop.wait_state(call_id, "disconnected")


@pytest.mark.sandbox_safe
def test_put_bxml_on_a_live_call(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "PUT BXML on a live call"
    loop.answer_callee(HOLD)
    loop.answer_caller(HOLD)
    loop.script("redirect", HANGUP)
    with loop.real_time():
        call_id = loop.place()
        loop.wait_for("answer", call_id=call_id, where=flow_name)
        response = loop.put_bxml(
            call_id, f'<Response><Redirect redirectUrl="{loop.url("after-put")}"/></Response>'
        )
        loop.require(
            response.status_code == 204, flow_name, "PUT BXML answers 204",
            expected=204, received=f"{response.status_code} {response.text[:200]}",
        )  # fmt: skip
        loop.expect(call_flow(flow_name, ["answer", "redirect", "disconnect"], call_id))


# -------------------------------------------------------------------------------- tags, auth, methods
@pytest.mark.sandbox_safe
def test_tag_propagation_and_tag_verb(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    loop.answer_callee(HOLD)
    loop.answer_caller(
        f'<Response><Gather gatherUrl="{loop.url("gather")}" firstDigitTimeout="1" '
        'tag="t-attribute"/></Response>'
    )
    loop.script(
        "gather", f'<Response><Tag> t-verb </Tag><Redirect redirectUrl="{loop.url("redirect")}"/></Response>'
    )
    loop.script("redirect", "<Response><Tag></Tag><Hangup/></Response>")
    call_id = loop.place(tag="t-create")
    loop.expect(
        call_flow(
            "tag propagation and <Tag>",
            ["answer", "gather", "redirect", "disconnect"],
            call_id,
            carries_tag("t-create", stop="gather"),
            carries_tag("t-attribute", start="gather", stop="redirect"),
            carries_tag("t-verb", start="redirect", stop="disconnect"),
            carries_tag(None, start="disconnect"),
        )
    )


@pytest.mark.sandbox_safe
def test_callback_basic_auth(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    loop.answer_callee(HOLD)
    loop.answer_caller(HANGUP)
    call_id = loop.place(username="hook-user", password="hook-secret")  # noqa: S106 - a test credential
    received = loop.expect(call_flow("callback Basic auth", ["answer", "disconnect"], call_id))
    for hook in received:
        if hook.call_id == call_id:
            loop.require(
                hook.auth == ("hook-user", "hook-secret"),
                "callback Basic auth",
                f"{hook.event_type} carries the Basic credentials",
                expected=("hook-user", "hook-secret"),
                received=hook.auth,
            )


@pytest.mark.sandbox_safe
def test_get_callbacks(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    loop.answer_callee(HOLD)
    loop.answer_caller(HANGUP)
    call_id = loop.place(answerMethod="GET", disconnectMethod="GET")
    received = loop.expect(call_flow("GET callbacks", ["answer", "disconnect"], call_id))
    for hook in received:
        if hook.call_id == call_id:
            loop.require(
                hook.method == "GET" and not hook.body,
                "GET callbacks",
                f"{hook.event_type} is a GET with query parameters",
                expected="GET, no body",
                received=f"{hook.method} body={hook.body[:60]!r}",
            )


# -------------------------------------------------------------------------------- faults
@pytest.mark.sandbox_safe
def test_fallback_url_when_the_primary_fails(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "fallback URL when the primary fails"
    loop.answer_callee(HOLD)
    loop.answer_caller(HANGUP)
    loop.scope.fault("answer", status=500, times=1)
    call_id = loop.place(answerFallbackUrl=loop.url("answer-fallback"))
    received = loop.expect(
        call_flow(
            flow_name,
            [count("answer", 2), "disconnect"],
            call_id,
            equals("cause", "hangup", events=["disconnect"]),
        )
    )
    paths = [w.event_path for w in received if w.event_type == "answer" and w.call_id == call_id]
    loop.require(
        paths == ["answer", "answer-fallback"],
        flow_name,
        "the fallback URL gets the webhook after the primary answered 500",
        expected=["answer", "answer-fallback"],
        received=paths,
    )


@pytest.mark.sandbox_safe
def test_invalid_bxml_disconnects_the_call(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "invalid BXML ends the call"
    loop.answer_callee(HOLD)
    loop.answer_caller(Reply.bxml('<Response><Gather maxDigits="99"/></Response>'))
    call_id = loop.place()
    received = loop.expect(
        call_flow(
            flow_name,
            ["answer", "disconnect"],
            call_id,
            equals("cause", "invalid-bxml", events=["disconnect"]),
        )
    )
    disconnect = next(w for w in received if w.event_type == "disconnect" and w.call_id == call_id)
    message = (disconnect.payload or {}).get("errorMessage")
    loop.require(
        isinstance(message, str) and bool(message),
        flow_name,
        "disconnect carries an errorMessage",
        expected="a non-empty errorMessage",
        received=message,
    )


# -------------------------------------------------------------------------------- machine detection
def test_machine_detection_sync(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    simulator_only(loop)
    loop.answer_caller(HANGUP)
    call_id = loop.place(FAR_ENDS["machine"], machineDetection={"mode": "sync", "detectionTimeout": 15})
    loop.expect(
        call_flow(
            "machine detection (sync): the result rides on answer",
            ["answer", "disconnect"],
            call_id,
            equals("machineDetectionResult.value", "answering-machine", events=["answer"]),
        )
    )


def test_machine_detection_async(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    simulator_only(loop)
    loop.answer_caller('<Response><Pause duration="10"/><Hangup/></Response>')
    call_id = loop.place(
        FAR_ENDS["machine"],
        machineDetection={
            "mode": "async",
            "callbackUrl": loop.url("machine-detection"),
            "detectionTimeout": 15,
        },
    )
    loop.expect(
        call_flow(
            "machine detection (async): machineDetectionComplete",
            ["answer", "machineDetectionComplete", "disconnect"],
            call_id,
            equals("machineDetectionResult.value", "answering-machine", events=["machineDetectionComplete"]),
        )
    )
