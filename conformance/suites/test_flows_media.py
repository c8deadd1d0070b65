"""Webhook flows of what calls hear and keep (marker ``flows``): Gather, StartGather, Record,
StartRecording, with recordings downloaded and checked as audio.  Sequences as the Voice API docs state them.
"""

from __future__ import annotations

import io
import wave

import pytest

from conformance.suites.flowkit import HOLD, call_flow, iso_seconds, parse_time
from conformance.suites.loopback import HANGUP, Loopback
from conformance.webhooks import (
    Webhook,
    any_order,
    carries_tag,
    count,
    equals,
    same,
)

pytestmark = pytest.mark.flows


# -------------------------------------------------------------------------------- gathers
def _gather_call(loop: Loopback, callee_says: str, gather: str) -> tuple[str, Webhook]:
    loop.answer_callee(f'<Response><Pause duration="1"/>{callee_says}<Pause duration="30"/></Response>')
    loop.answer_caller(f"<Response>{gather}</Response>")
    loop.script("gather", HANGUP)
    call_id = loop.place()
    received = loop.expect(call_flow("gather", ["answer", "gather", "disconnect"], call_id))
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
        parse_time(payload.get("eventTime")) - parse_time((answer.payload or {}).get("eventTime"))
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
        call_flow(
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
    duration = iso_seconds(payload.get("duration"))
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
        call_flow(
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
        call_flow(flow_name, ["answer", any_order("recordingAvailable", "disconnect")], call_id)
    )
    available = next(w for w in received if w.event_type == "recordingAvailable")
    duration = iso_seconds((available.payload or {}).get("duration"))
    loop.require(
        abs(duration - 3.0) <= 0.2,
        flow_name,
        "paused time is excluded from the recording",
        expected="duration of 3 s (2 s recorded + 1 s after resume)",
        received=(available.payload or {}).get("duration"),
    )
    _check_wav(loop, flow_name, call_id, available)
