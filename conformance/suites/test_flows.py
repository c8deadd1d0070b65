"""Webhook flows over loopback calls (marker ``flows``): each documented sequence, on any target.

A test places a call from the caller number to the loopback number, answers both legs with BXML,
and checks the webhooks as a partial order with field rules (:mod:`conformance.webhooks`); every
payload is checked against the contract.  Tests that need the simulator's far ends (busy, no
answer, rejected, answering machine) skip on targets without the ``/_sim/`` control API.
Facts: bandwidth-voice-facts §4 (verbs) and §5 (webhook sequences).
"""

from __future__ import annotations

import io
import re
import uuid
import wave
from datetime import datetime
from typing import Any

import pytest

from conformance.suites.loopback import FAR_ENDS, HANGUP, Loopback
from conformance.webhooks import (
    Flow,
    Reply,
    Webhook,
    any_order,
    carries_tag,
    count,
    either_order,
    equals,
    non_decreasing,
    same,
)

pytestmark = pytest.mark.flows

HOLD = '<Response><Pause duration="30"/></Response>'
_ISO_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def _seconds(duration: object) -> float:
    match = _ISO_DURATION.match(str(duration))
    if match is None:
        raise AssertionError(f"not an ISO 8601 duration: {duration!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _time(value: object) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _simulator_only(loop: Loopback) -> None:
    if not loop.simulated:
        pytest.skip("needs the simulator's far ends (a target with the /_sim/ control API)")


def _call_flow(name: str, steps: list[Any], call_id: str, *rules: Any, **kwargs: Any) -> Flow:
    return Flow(
        steps,
        name=name,
        call_id=call_id,
        rules=[same("callId"), non_decreasing("eventTime"), *rules],
        **kwargs,
    )


# -------------------------------------------------------------------------------- outbound/inbound
@pytest.mark.sandbox_safe
def test_outbound_answered_and_hung_up(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    loop.answer_callee(HOLD)
    loop.answer_caller("<Response><SpeakSentence>hello</SpeakSentence><Hangup/></Response>")
    call_id = loop.place()
    received = loop.expect(
        _call_flow(
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
    start, answer, end = (_time(payload.get(k)) for k in ("startTime", "answerTime", "endTime"))
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
    _simulator_only(loop)
    call_id = loop.place(FAR_ENDS[far_end], callTimeout=5)
    loop.expect(
        _call_flow(
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
        _call_flow(
            "inbound call: initiate then disconnect",
            ["initiate", "disconnect"],
            callee,
            equals("direction", "inbound"),
            equals("to", loop.callee),
            equals("from", loop.caller),
            equals("cause", "hangup", events=["disconnect"]),
        )
    )


# -------------------------------------------------------------------------------- gathers
def _gather_call(loop: Loopback, callee_says: str, gather: str) -> tuple[str, Webhook]:
    loop.answer_callee(f'<Response><Pause duration="1"/>{callee_says}<Pause duration="30"/></Response>')
    loop.answer_caller(f"<Response>{gather}</Response>")
    loop.script("gather", HANGUP)
    call_id = loop.place()
    received = loop.expect(_call_flow("gather", ["answer", "gather", "disconnect"], call_id))
    return call_id, next(w for w in received if w.event_type == "gather")


@pytest.mark.sandbox_safe
def test_gather_hears_dtmf_from_the_other_leg(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    _, gather = _gather_call(
        loop,
        "<SendDtmf>123</SendDtmf>",
        f'<Gather gatherUrl="{loop.url("gather")}" maxDigits="3" firstDigitTimeout="10">'
        "<SpeakSentence>Enter three digits</SpeakSentence></Gather>",
    )
    payload = gather.payload or {}
    loop.require(
        payload.get("digits") == "123",
        "gather with DTMF",
        "gather.digits are the digits sent",
        expected="123",
        received=payload.get("digits"),
    )


@pytest.mark.sandbox_safe
def test_gather_times_out(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    call_id, gather = _gather_call(
        loop, "", f'<Gather gatherUrl="{loop.url("gather")}" firstDigitTimeout="2"/>'
    )
    payload = gather.payload or {}
    loop.require(
        payload.get("digits", "") == "" and payload.get("terminatingDigit", "") == "",
        "gather with timeout",
        "gather after firstDigitTimeout has no digits",
        expected={"digits": "", "terminatingDigit": ""},
        received={k: payload.get(k) for k in ("digits", "terminatingDigit")},
    )
    answer = loop.wait_for("answer", call_id=call_id)
    waited = (
        _time(payload.get("eventTime")) - _time((answer.payload or {}).get("eventTime"))
    ).total_seconds()
    loop.require(
        waited >= 2.0,
        "gather with timeout",
        "gather is sent after firstDigitTimeout",
        expected="eventTime at least 2 s after answer",
        received=f"{waited:.3f} s",
    )


@pytest.mark.sandbox_safe
def test_gather_terminating_digit(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    _, gather = _gather_call(
        loop,
        "<SendDtmf>12#5</SendDtmf>",
        f'<Gather gatherUrl="{loop.url("gather")}" terminatingDigits="#" firstDigitTimeout="10"/>',
    )
    payload = gather.payload or {}
    loop.require(
        (payload.get("digits"), payload.get("terminatingDigit")) == ("12", "#"),
        "gather with a terminating digit",
        "digits before the terminating digit",
        expected=("12", "#"),
        received=(payload.get("digits"), payload.get("terminatingDigit")),
    )


@pytest.mark.sandbox_safe
def test_start_gather_sends_dtmf_events(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    loop.answer_callee(
        '<Response><Pause duration="1"/><SendDtmf>42*</SendDtmf><Pause duration="30"/></Response>'
    )
    loop.answer_caller(
        f'<Response><StartGather dtmfUrl="{loop.url("dtmf")}" tag="sg"/><Pause duration="4"/>'
        '<StopGather/><Pause duration="1"/><Hangup/></Response>'
    )
    call_id = loop.place()
    received = loop.expect(
        _call_flow(
            "StartGather: a dtmf event per digit",
            ["answer", count("dtmf", 3), "disconnect"],
            call_id,
            carries_tag("sg", events=["dtmf"]),
        )
    )
    digits = [(w.payload or {}).get("digit") for w in received if w.event_type == "dtmf"]
    loop.require(
        digits == ["4", "2", "*"],
        "StartGather: a dtmf event per digit",
        "dtmf events in the order the digits were sent",
        expected=["4", "2", "*"],
        received=digits,
    )


# -------------------------------------------------------------------------------- recordings
def _check_wav(loop: Loopback, flow: str, call_id: str, hook: Webhook) -> None:
    payload = hook.payload or {}
    recording_id = payload.get("recordingId")
    response = loop.client.get(f"{loop.target.account_url}/calls/{call_id}/recordings/{recording_id}/media")
    loop.require(
        response.status_code == 200,
        flow,
        "recording media downloads",
        expected=200,
        received=f"{response.status_code} {response.text[:200]}",
    )
    content = response.content
    loop.require(
        content[:4] == b"RIFF" and content[8:12] == b"WAVE",
        flow,
        "recording media is a WAV file",
        expected="RIFF....WAVE header",
        received=content[:12],
    )
    with wave.open(io.BytesIO(content)) as wav:
        length = wav.getnframes() / wav.getframerate()
    duration = _seconds(payload.get("duration"))
    loop.require(
        abs(length - duration) <= 0.1,
        flow,
        "WAV length matches the recording's duration",
        expected=f"{duration:.3f} s (duration {payload.get('duration')})",
        received=f"{length:.3f} s",
    )


@pytest.mark.sandbox_safe
def test_record_then_recording_and_transcription(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "Record: recordComplete -> recordingAvailable -> transcriptionAvailable"
    loop.answer_callee(
        '<Response><Pause duration="1"/><SpeakSentence>please call me back tomorrow</SpeakSentence>'
        '<SendDtmf>#</SendDtmf><Pause duration="30"/></Response>'
    )
    loop.answer_caller(
        f'<Response><Record recordCompleteUrl="{loop.url("record-complete")}" '
        f'recordingAvailableUrl="{loop.url("recording-available")}" transcribe="true" '
        f'transcriptionAvailableUrl="{loop.url("transcription-available")}" maxDuration="30"/></Response>'
    )
    loop.script("recordComplete", HANGUP)
    call_id = loop.place()
    received = loop.expect(
        _call_flow(
            flow_name,
            [
                "answer",
                "recordComplete",
                any_order(["recordingAvailable", "transcriptionAvailable"], "disconnect"),
            ],
            call_id,
            same("recordingId", events=["recordComplete", "recordingAvailable", "transcriptionAvailable"]),
            equals("status", "complete", events=["recordingAvailable"]),
        )
    )
    available = next(w for w in received if w.event_type == "recordingAvailable")
    _check_wav(loop, flow_name, call_id, available)
    transcribed = next(w for w in received if w.event_type == "transcriptionAvailable")
    recording_id = (transcribed.payload or {}).get("recordingId")
    response = loop.client.get(
        f"{loop.target.account_url}/calls/{call_id}/recordings/{recording_id}/transcription"
    )
    loop.require(
        response.status_code == 200 and "tomorrow" in response.text.lower(),
        flow_name,
        "the transcription holds what the other leg said",
        expected="200 with a transcript containing 'tomorrow'",
        received=f"{response.status_code} {response.text[:300]}",
    )


@pytest.mark.sandbox_safe
def test_start_recording_with_pause_and_resume(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "StartRecording with PauseRecording/ResumeRecording"
    loop.answer_callee(HOLD)
    loop.answer_caller(
        f'<Response><StartRecording recordingAvailableUrl="{loop.url("recording-available")}"/>'
        '<Pause duration="2"/><PauseRecording/><Pause duration="3"/><ResumeRecording/>'
        '<Pause duration="1"/><StopRecording/><Hangup/></Response>'
    )
    call_id = loop.place()
    received = loop.expect(
        _call_flow(flow_name, ["answer", any_order("recordingAvailable", "disconnect")], call_id)
    )
    available = next(w for w in received if w.event_type == "recordingAvailable")
    duration = _seconds((available.payload or {}).get("duration"))
    loop.require(
        abs(duration - 3.0) <= 0.2,
        flow_name,
        "paused time is excluded from the recording",
        expected="duration of 3 s (2 s recorded + 1 s after resume)",
        received=(available.payload or {}).get("duration"),
    )
    _check_wav(loop, flow_name, call_id, available)


# -------------------------------------------------------------------------------- transfer, bridge
@pytest.mark.sandbox_safe
def test_transfer_answer_disconnects_complete(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "Transfer: transferAnswer, transferDisconnect, transferComplete"
    initiates: list[str] = []

    def callee(payload: dict[str, Any]) -> str:
        initiates.append(str(payload.get("callId")))
        if len(initiates) == 1:  # the loopback leg of the original call waits
            return HOLD
        return "<Response><SpeakSentence>transferred</SpeakSentence><Hangup/></Response>"

    loop.answer_callee(callee)
    loop.answer_caller(
        f'<Response><Transfer transferCompleteUrl="{loop.url("transfer-complete")}" tag="xfer">'
        f'<PhoneNumber transferAnswerUrl="{loop.url("transfer-answer")}" '
        f'transferDisconnectUrl="{loop.url("transfer-disconnect")}" tag="b-leg">{loop.callee}</PhoneNumber>'
        "</Transfer></Response>"
    )
    loop.script("transferAnswer", "<Response><SpeakSentence>connecting</SpeakSentence></Response>")
    loop.script("transferComplete", HANGUP)
    call_id = loop.place()
    answer = loop.wait_for("transferAnswer", where=flow_name)
    b_leg = answer.call_id or ""
    loop.expect(
        Flow(
            # the order of transferDisconnect and transferComplete is not documented; the A-leg's
            # disconnect follows the BXML that transferComplete returned
            [
                "answer",
                "transferAnswer",
                either_order("transferDisconnect", ["transferComplete", "disconnect"]),
            ],
            name=flow_name,
            rules=[
                equals("parentCallId", call_id, events=["transferAnswer", "transferDisconnect"]),
                equals("callId", call_id, events=["answer", "transferComplete", "disconnect"]),
                equals("callId", b_leg, events=["transferAnswer", "transferDisconnect"]),
                carries_tag("b-leg", events=["transferAnswer", "transferDisconnect"]),
                carries_tag("xfer", events=["transferComplete"]),
                non_decreasing("eventTime"),
            ],
        ),
        calls={call_id, b_leg},
    )


def test_transfer_to_a_busy_number(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    _simulator_only(loop)
    loop.answer_caller(
        f'<Response><Transfer transferCompleteUrl="{loop.url("transfer-complete")}">'
        f'<PhoneNumber transferAnswerUrl="{loop.url("transfer-answer")}" '
        f'transferDisconnectUrl="{loop.url("transfer-disconnect")}">{FAR_ENDS["busy"]}</PhoneNumber>'
        "</Transfer></Response>"
    )
    loop.script("transferComplete", HANGUP)
    call_id = loop.place(FAR_ENDS["person"])
    loop.expect(
        Flow(
            ["answer", either_order("transferDisconnect", ["transferComplete", "disconnect"])],
            name="Transfer to a busy number: no transferAnswer, both report busy",
            rules=[
                equals("cause", "busy", events=["transferDisconnect", "transferComplete"]),
                equals("parentCallId", call_id, events=["transferDisconnect"]),
                equals("callId", call_id, events=["answer", "transferComplete", "disconnect"]),
                non_decreasing("eventTime"),
            ],
        )
    )


def _bridge(loop: Loopback, *, target_leaves_first: bool) -> None:
    flow_name = "Bridge ended by the " + ("target" if target_leaves_first else "originator")
    hang_up_soon = '<Response><Pause duration="2"/><Hangup/></Response>'
    hold_long = '<Response><Pause duration="20"/></Response>'
    # the loopback legs: the first call's (the bridge target) and the second call's (the originator)
    order: list[str] = []

    def callee(payload: dict[str, Any]) -> str:
        order.append(str(payload.get("callId")))
        first = len(order) == 1
        return hang_up_soon if first == target_leaves_first else hold_long

    calls: list[str] = []

    def caller(payload: dict[str, Any]) -> str:
        if not calls or payload.get("callId") == calls[0]:  # the first call is the bridge target
            calls[:] = [str(payload.get("callId"))]
            return hold_long
        return (
            f'<Response><Bridge bridgeCompleteUrl="{loop.url("bridge-complete")}" '
            f'bridgeTargetCompleteUrl="{loop.url("bridge-target-complete")}">{calls[0]}</Bridge></Response>'
        )

    loop.answer_callee(callee)
    loop.answer_caller(caller)
    loop.script("bridgeComplete", HANGUP)
    loop.script("bridgeTargetComplete", HANGUP)
    with loop.real_time():
        target = loop.place()
        loop.wait_for("answer", call_id=target, where=flow_name)
        originator = loop.place()
        ended = "bridgeComplete" if target_leaves_first else "bridgeTargetComplete"
        loop.wait_for(ended, where=flow_name, timeout=loop.timeout + 5)
    if target_leaves_first:
        steps: list[Any] = ["answer", "bridgeComplete", "disconnect"]
        loop.expect(_call_flow(flow_name, steps, originator))
    else:
        steps = ["answer", "bridgeTargetComplete", "disconnect"]
        loop.expect(_call_flow(flow_name, steps, target))
    other = target if target_leaves_first else originator
    loop.expect(_call_flow(flow_name + " (the other call)", ["answer", "disconnect"], other))


@pytest.mark.sandbox_safe
def test_bridge_target_leaves_first(bw_loopback: Loopback) -> None:
    _bridge(bw_loopback, target_leaves_first=True)


@pytest.mark.sandbox_safe
def test_bridge_originator_leaves_first(bw_loopback: Loopback) -> None:
    _bridge(bw_loopback, target_leaves_first=False)


# -------------------------------------------------------------------------------- conference
@pytest.mark.sandbox_safe
def test_conference_lifecycle_with_mute_and_hold(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "Conference: created, joins, exits, completed"
    room = f"bw-conformance-{uuid.uuid4().hex[:12]}"
    events = loop.url("conference")
    # whichever leg joins first creates the conference: both name the same event URL and tag
    loop.answer_callee(
        f'<Response><Conference conferenceEventUrl="{events}" hold="true" tag="conf">{room}</Conference>'
        "</Response>"
    )
    loop.answer_caller(
        f'<Response><Conference conferenceEventUrl="{events}" mute="true" tag="conf">{room}</Conference>'
        "</Response>"
    )
    with loop.real_time():
        call_id = loop.place()
        callee = loop.callee_id()
        created = loop.wait_for("conferenceCreated", where=flow_name)
        conference_id = (created.payload or {}).get("conferenceId")
        for member in (callee, call_id):
            loop.wait_for("conferenceMemberJoin", call_id=member, where=flow_name)
        members = f"{loop.target.account_url}/conferences/{conference_id}/members"
        caller_state = loop.client.get(f"{members}/{call_id}")
        callee_state = loop.client.get(f"{members}/{callee}")
        got = (
            caller_state.status_code,
            caller_state.json().get("mute") if caller_state.status_code == 200 else None,
        )
        loop.require(
            got == (200, True), flow_name, 'mute="true" mutes the member', expected=(200, True), received=got
        )
        got = (
            callee_state.status_code,
            callee_state.json().get("hold") if callee_state.status_code == 200 else None,
        )
        loop.require(
            got == (200, True), flow_name, 'hold="true" holds the member', expected=(200, True), received=got
        )
        update = loop.client.put(f"{members}/{call_id}", json={"mute": False, "hold": True})
        loop.require(
            update.status_code == 204,
            flow_name,
            "updateConferenceMember answers 204",
            expected=204,
            received=f"{update.status_code} {update.text[:200]}",
        )
        after = loop.client.get(f"{members}/{call_id}").json()
        got = (after.get("mute"), after.get("hold"))
        loop.require(
            got == (False, True), flow_name, "updateConferenceMember changes mute and hold",
            expected=(False, True), received=got,
        )  # fmt: skip
        loop.hang_up(call_id)
        loop.expect(
            Flow(
                [
                    "conferenceCreated",
                    count("conferenceMemberJoin", 2),
                    count("conferenceMemberExit", 2),
                    "conferenceCompleted",
                ],
                name=flow_name,
                rules=[same("conferenceId"), same("name"), carries_tag("conf"), non_decreasing("eventTime")],
                ignore=["answer", "initiate", "disconnect"],
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
    loop.expect(_call_flow("Redirect verb", ["answer", "redirect", "disconnect"], call_id))


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
            _call_flow(
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
        loop.expect(_call_flow(flow_name, ["answer", "redirect", "disconnect"], call_id))


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
        _call_flow(
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
    received = loop.expect(_call_flow("callback Basic auth", ["answer", "disconnect"], call_id))
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
    received = loop.expect(_call_flow("GET callbacks", ["answer", "disconnect"], call_id))
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
        _call_flow(
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
        _call_flow(
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
    _simulator_only(loop)
    loop.answer_caller(HANGUP)
    call_id = loop.place(FAR_ENDS["machine"], machineDetection={"mode": "sync", "detectionTimeout": 15})
    loop.expect(
        _call_flow(
            "machine detection (sync): the result rides on answer",
            ["answer", "disconnect"],
            call_id,
            equals("machineDetectionResult.value", "answering-machine", events=["answer"]),
        )
    )


def test_machine_detection_async(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    _simulator_only(loop)
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
        _call_flow(
            "machine detection (async): machineDetectionComplete",
            ["answer", "machineDetectionComplete", "disconnect"],
            call_id,
            equals("machineDetectionResult.value", "answering-machine", events=["machineDetectionComplete"]),
        )
    )
