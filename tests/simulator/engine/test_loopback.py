"""Loopback calls: both legs run BXML and hear each other through the media channel."""

from __future__ import annotations

import io
import wave
from datetime import datetime

from .conftest import ACCOUNT, LOOPBACK, Harness


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_inbound_leg_gets_initiate_and_both_legs_disconnect(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply("/initiate", "<Response><SpeakSentence>hi</SpeakSentence><Hangup/></Response>")
    harness.app.reply("/answer", '<Response><Pause duration="30"/></Response>')
    call_id = harness.create_call(to=LOOPBACK)
    state = harness.wait_ended(call_id)
    initiate = harness.app.wait_event("initiate")[0]
    inbound_id = initiate.body["callId"]
    assert initiate.body["direction"] == "inbound"
    assert initiate.body["to"] == LOOPBACK
    assert state["disconnectCause"] == "hangup"
    inbound = harness.wait_ended(inbound_id)
    assert inbound["direction"] == "inbound"
    status = harness.app.wait_event("disconnect", callId=inbound_id)[0]
    assert status.path == "/status"
    assert harness.app.wait_event("disconnect", callId=call_id)[0].path == "/disconnect"


def test_gather_hears_digits_sent_by_the_other_leg(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><Pause duration="2"/><SendDtmf>1234#9</SendDtmf><Pause duration="20"/></Response>',
    )
    harness.app.reply(
        "/answer",
        '<Response><Gather gatherUrl="/gathered" terminatingDigits="#" firstDigitTimeout="10">'
        "<SpeakSentence>Enter your code</SpeakSentence></Gather></Response>",
    )
    harness.app.reply("/gathered", "<Response><Hangup/></Response>")
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    gather = harness.app.wait_event("gather")[0]
    assert gather.body["digits"] == "1234"
    assert gather.body["terminatingDigit"] == "#"
    assert gather.body["callId"] == call_id


def test_gather_max_digits_and_timeouts(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><Pause duration="1"/><SendDtmf>98765</SendDtmf><Pause duration="30"/></Response>',
    )
    harness.app.reply(
        "/answer",
        '<Response><Gather gatherUrl="/g1" maxDigits="3"/></Response>',
    )
    harness.app.reply(
        "/g1", '<Response><Gather gatherUrl="/g2" interDigitTimeout="2" firstDigitTimeout="1"/></Response>'
    )
    harness.app.reply("/g2", '<Response><Gather gatherUrl="/g3" firstDigitTimeout="3"/></Response>')
    harness.app.reply("/g3", "<Response><Hangup/></Response>")
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    first, second, third = (harness.app.wait_event("gather")[i] for i in range(3))
    assert first.body["digits"] == "987"
    assert second.body["digits"] == "65"  # ended by the inter-digit timeout
    assert third.body["digits"] == ""  # nothing more: the first-digit timeout
    assert third.body["terminatingDigit"] == ""
    waited = (_t(third.body["eventTime"]) - _t(second.body["eventTime"])).total_seconds()
    assert abs(waited - 3) < 0.3


def test_gather_without_url_continues_and_repeats_prompts(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply("/initiate", '<Response><Pause duration="60"/></Response>')
    harness.app.reply(
        "/answer",
        '<Response><Gather repeatCount="3" firstDigitTimeout="1">'
        "<SpeakSentence>one two</SpeakSentence></Gather>"
        '<Redirect redirectUrl="/after"/></Response>',
    )
    harness.app.reply("/after", "<Response/>")
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    answer = harness.app.wait_event("answer")[0]
    after = harness.app.wait_event("redirect")[0]
    elapsed = (_t(after.body["eventTime"]) - _t(answer.body["eventTime"])).total_seconds()
    assert abs(elapsed - (3 * 0.8 + 1)) < 0.1  # three plays of a two-word prompt, then 1 s


def test_record_transcribes_what_the_other_leg_said(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><Pause duration="1"/><SpeakSentence>please call me back tomorrow</SpeakSentence>'
        '<SendDtmf>#</SendDtmf><Pause duration="30"/></Response>',
    )
    harness.app.reply(
        "/answer",
        '<Response><Record recordCompleteUrl="/recorded" recordingAvailableUrl="/available" '
        'transcribe="true" transcriptionAvailableUrl="/transcribed" maxDuration="30"/></Response>',
    )
    harness.app.reply("/recorded", "<Response><Hangup/></Response>")
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    complete = harness.app.wait_event("recordComplete")[0]
    available = harness.app.wait_event("recordingAvailable")[0]
    transcribed = harness.app.wait_event("transcriptionAvailable")[0]
    order = [h.event for h in harness.app.events() if h.body.get("callId") == call_id]
    assert (
        order.index("recordComplete")
        < order.index("recordingAvailable")
        < order.index("transcriptionAvailable")
    )
    recording_id = complete.body["recordingId"]
    assert available.body["recordingId"] == recording_id
    assert available.body["status"] == "complete"
    # 1 s pause + 2 s of speech (five words); the '#' that follows stops the recording
    assert complete.body["duration"] == "PT3S"
    media = harness.http.get(f"/accounts/{ACCOUNT}/calls/{call_id}/recordings/{recording_id}/media")
    assert media.status_code == 200
    with wave.open(io.BytesIO(media.content)) as wav:
        assert wav.getframerate() == 8000
        assert wav.getsampwidth() == 2
        assert abs(wav.getnframes() / 8000 - 3.0) < 0.01
        frames = wav.readframes(wav.getnframes())
    assert any(frames[8000 * 2 + i] for i in range(200))  # speech after the first second
    assert not any(frames[:1600])  # silence first
    transcription = harness.http.get(
        f"/accounts/{ACCOUNT}/calls/{call_id}/recordings/{recording_id}/transcription"
    ).json()
    assert "please call me back tomorrow" in str(transcription)
    assert transcribed.body["transcription"]["status"] == "available"


def test_start_gather_sends_a_dtmf_event_per_digit(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate", '<Response><Pause duration="1"/><SendDtmf>42*</SendDtmf><Pause duration="5"/></Response>'
    )
    harness.app.reply(
        "/answer",
        '<Response><StartGather dtmfUrl="/digit" tag="sg"/><Pause duration="3"/><StopGather/>'
        '<Pause duration="1"/></Response>',
    )
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    digits = harness.app.wait_event("dtmf", count=3)
    assert [d.body["digit"] for d in digits] == ["4", "2", "*"]
    assert all(d.body["tag"] == "sg" for d in digits)
    assert all(d.path == "/digit" for d in digits)


def test_hangup_before_answer_rejects_the_caller(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply("/initiate", "<Response><Hangup/></Response>")
    call_id = harness.create_call(to=LOOPBACK)
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "rejected"
    assert "answer" not in harness.app.names(call_id)


def test_ring_without_answer_times_out_the_caller(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply("/initiate", '<Response><Ring duration="100" answerCall="false"/></Response>')
    call_id = harness.create_call(to=LOOPBACK, callTimeout=7)
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "timeout"
    inbound_id = harness.app.wait_event("initiate")[0].body["callId"]
    assert harness.wait_ended(inbound_id)["disconnectCause"] == "cancel"
