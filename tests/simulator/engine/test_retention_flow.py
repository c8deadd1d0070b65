"""Retention seen through the REST API: a call ended seven simulated days ago is gone (404, not
listed), while a call that ended just now is still there; the cap; recordings kept bounded."""

from __future__ import annotations

import pytest

from conformance.simulator.engine.media import mp3_duration
from conformance.simulator.engine.recording import MAX_RENDERED_SECONDS

from .conftest import ACCOUNT, Harness

DAY = 86400


def test_a_call_is_forgotten_seven_simulated_days_after_it_ended(harness: Harness) -> None:
    harness.app.reply("/short", "<Response><Hangup/></Response>")
    short = harness.create_call(answer="/short")
    harness.wait_ended(short)
    harness.app.reply("/long", "<Response>" + f'<Pause duration="{DAY}"/>' * 8 + "<Hangup/></Response>")
    long = harness.create_call(answer="/long")
    harness.wait_ended(long)
    assert harness.http.get(f"/accounts/{ACCOUNT}/calls/{short}").status_code == 404
    listed = harness.http.get(f"/accounts/{ACCOUNT}/calls").json()
    assert [c["callId"] for c in listed] == [long]


def test_the_cap_keeps_the_newest_ended_calls(harness: Harness) -> None:
    harness.sim.store.max_ended_calls = 2
    harness.app.reply("/short", "<Response><Hangup/></Response>")
    calls = []
    for _ in range(4):
        calls.append(harness.create_call(answer="/short"))
        harness.wait_ended(calls[-1])
    listed = harness.http.get(f"/accounts/{ACCOUNT}/calls").json()
    assert [c["callId"] for c in listed] == calls[-2:]
    assert harness.http.get(f"/accounts/{ACCOUNT}/calls/{calls[0]}").status_code == 404


def test_the_engine_forgets_what_recordings_said_once_the_store_forgets_them(harness: Harness) -> None:
    harness.sim.store.max_ended_calls = 2  # also the number of recordings kept
    one = "<StartRecording/><SpeakSentence>hello there</SpeakSentence><StopRecording/>"
    harness.app.reply("/many", "<Response>" + one * 100 + "</Response>")
    harness.wait_ended(harness.create_call(answer="/many"))
    assert len(harness.sim.store.recordings) <= 3
    assert len(harness.engine.recording_texts) <= 3 + 64


def test_a_day_long_recording_keeps_a_bounded_file(harness: Harness) -> None:
    harness.app.reply(
        "/day",
        '<Response><StartRecording recordingAvailableUrl="/available" fileFormat="mp3"/>'
        f'<Pause duration="{DAY}"/><StopRecording/></Response>',
    )
    call_id = harness.create_call(answer="/day")
    harness.wait_ended(call_id)
    available = harness.app.wait_event("recordingAvailable")[0]
    assert available.body["duration"] == "PT86400S"  # the duration says how long it ran
    media = harness.http.get(
        f"/accounts/{ACCOUNT}/calls/{call_id}/recordings/{available.body['recordingId']}/media"
    )
    assert mp3_duration(media.content) == pytest.approx(MAX_RENDERED_SECONDS, rel=0.01)
