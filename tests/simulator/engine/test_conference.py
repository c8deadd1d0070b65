"""Conferences: created, member join/exit, completed; conference BXML; mute; recordings; the API."""

from __future__ import annotations

import io
import wave

from .conftest import ACCOUNT, LOOPBACK, Harness

_JOIN = (
    '<Response><Conference conferenceEventUrl="/conf" tag="room-tag" {extra}>standup</Conference>'
    "<SpeakSentence>after the conference</SpeakSentence></Response>"
)


def test_two_members_join_and_leave(harness: Harness) -> None:
    harness.app.reply("/answer", _JOIN.format(extra=""))
    harness.app.reply(
        "/conf",
        lambda request: __import__("werkzeug").Response(
            "<Response><SpeakSentence>welcome</SpeakSentence></Response>"
            if request.get_json()["eventType"] == "conferenceMemberJoin"
            else "",
            content_type="application/xml",
        ),
    )
    first = harness.create_call(to="+19995550005")
    second = harness.create_call(to="+19995550005")
    harness.wait_ended(first)
    harness.wait_ended(second)
    harness.app.wait_event("conferenceCompleted")
    events = [h.event for h in harness.app.events("/conf")]
    assert events[0] == "conferenceCreated"
    assert events.count("conferenceMemberJoin") == 2
    assert events.count("conferenceMemberExit") == 2
    assert events[-1] == "conferenceCompleted"
    created = harness.app.events("/conf")[0]
    assert created.body["name"] == "standup"
    assert created.body["tag"] == "room-tag"
    conference_id = created.body["conferenceId"]
    info = harness.http.get(f"/accounts/{ACCOUNT}/conferences/{conference_id}").json()
    assert info["completedTime"]
    joins = harness.app.wait_event("conferenceMemberJoin", count=2)
    assert {j.body["callId"] for j in joins} == {first, second}


def test_conference_recording_hears_members(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><Pause duration="1"/><SpeakSentence>good morning everyone</SpeakSentence>'
        '<Pause duration="1"/><Hangup/></Response>',
    )
    harness.app.reply("/answer", _JOIN.format(extra=""))
    harness.app.reply(
        "/conf",
        lambda request: __import__("werkzeug").Response(
            '<Response><StartRecording recordingAvailableUrl="/conf-rec"/></Response>'
            if request.get_json()["eventType"] == "conferenceCreated"
            else "",
            content_type="application/xml",
        ),
    )
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    available = harness.app.wait_event("conferenceRecordingAvailable")[0]
    assert available.path == "/conf-rec"
    conference_id = available.body["conferenceId"]
    recording_id = available.body["recordingId"]
    media = harness.http.get(
        f"/accounts/{ACCOUNT}/conferences/{conference_id}/recordings/{recording_id}/media"
    )
    assert media.status_code == 200
    with wave.open(io.BytesIO(media.content)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert available.body["duration"] == f"PT{seconds:g}S"
    assert seconds >= 2.2  # 1 s of silence, then 1.2 s of speech heard from the member


def test_muted_member_is_not_heard(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply("/initiate", '<Response><SendDtmf>1</SendDtmf><Pause duration="2"/></Response>')
    harness.app.reply("/answer", _JOIN.format(extra='mute="true"'))
    harness.app.reply(
        "/conf",
        lambda request: __import__("werkzeug").Response(
            '<Response><StartRecording recordingAvailableUrl="/conf-rec"/></Response>'
            if request.get_json()["eventType"] == "conferenceCreated"
            else "",
            content_type="application/xml",
        ),
    )
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    available = harness.app.wait_event("conferenceRecordingAvailable")[0]
    media = harness.http.get(
        f"/accounts/{ACCOUNT}/conferences/{available.body['conferenceId']}"
        f"/recordings/{available.body['recordingId']}/media"
    )
    with wave.open(io.BytesIO(media.content)) as wav:
        frames = wav.readframes(wav.getnframes())
    assert not any(frames)


def test_completing_the_conference_through_the_api(harness: Harness) -> None:
    harness.clock.time_scale = 1.0
    harness.app.reply("/answer", _JOIN.format(extra=""))
    harness.app.reply("/after", "<Response><Hangup/></Response>")
    call_id = harness.create_call()
    created = harness.app.wait_event("conferenceCreated")[0]
    conference_id = created.body["conferenceId"]
    harness.app.wait_event("conferenceMemberJoin")
    member = harness.http.get(f"/accounts/{ACCOUNT}/conferences/{conference_id}/members/{call_id}")
    assert member.status_code == 200
    response = harness.http.post(
        f"/accounts/{ACCOUNT}/conferences/{conference_id}",
        json={"status": "completed"},
    )
    assert response.status_code == 204
    harness.clock.time_scale = None
    harness.wait_ended(call_id)
    harness.app.wait_event("conferenceCompleted")
    # the member's own BXML went on after <Conference>: the SpeakSentence ran, then the implicit hangup
    assert harness.state(call_id)["disconnectCause"] == "hangup"


def test_conference_redirect_and_member_mute_through_the_api(harness: Harness) -> None:
    harness.clock.time_scale = 1.0
    harness.app.reply("/answer", _JOIN.format(extra=""))
    harness.app.reply(
        "/conf-redirect", "<Response><SpeakSentence>attention please</SpeakSentence></Response>"
    )
    call_id = harness.create_call()
    conference_id = harness.app.wait_event("conferenceCreated")[0].body["conferenceId"]
    harness.app.wait_event("conferenceMemberJoin")
    base = f"/accounts/{ACCOUNT}/conferences/{conference_id}"
    muted = harness.http.put(f"{base}/members/{call_id}", json={"mute": True})
    assert muted.status_code == 204
    room = harness.engine.rooms[conference_id]
    assert room.members[call_id].member.mute is True
    redirected = harness.http.post(base, json={"redirectUrl": harness.app.url("/conf-redirect")})
    assert redirected.status_code == 204
    redirect = harness.app.wait_event("conferenceRedirect")[0]
    assert redirect.body["conferenceId"] == conference_id
    harness.app.wait(lambda: any(s.kind == "speech" for s in room.sounds))
    harness.http.post(base, json={"status": "completed"})
    harness.clock.time_scale = None
    harness.wait_ended(call_id)


def test_a_coach_is_heard_only_by_the_call_it_coaches(harness: Harness) -> None:
    from conformance.simulator.engine.dialing import Person

    harness.clock.time_scale = 1.0
    harness.route_loopback()
    harness.app.reply(
        "/initiate", '<Response><Pause duration="1"/><SendDtmf>7</SendDtmf><Pause duration="30"/></Response>'
    )
    harness.app.reply("/answer", "<Response><Conference>coaching</Conference></Response>")
    coached = harness.create_call()
    other = harness.create_call()
    harness.app.wait(lambda: len(harness.app.events("/answer")) == 2)
    harness.app.reply(
        "/answer-coach", f'<Response><Conference callIdsToCoach="{coached}">coaching</Conference></Response>'
    )
    coach = harness.create_call(to=LOOPBACK, answer="/answer-coach")

    def heard(call_id: str) -> list[str]:
        party = harness.engine.legs[call_id].peer
        assert isinstance(party, Person)
        return [s.data for s in party.heard if s.kind == "dtmf"]

    harness.app.wait(lambda: heard(coached) == ["7"])
    assert heard(other) == []
    conference = harness.http.get(f"/accounts/{ACCOUNT}/conferences", params={"name": "coaching"}).json()[0]
    harness.http.post(f"/accounts/{ACCOUNT}/conferences/{conference['id']}", json={"status": "completed"})
    harness.clock.time_scale = None
    for call_id in (coached, other, coach):
        harness.wait_ended(call_id)


def test_a_held_member_hears_nothing_and_is_not_heard(harness: Harness) -> None:
    from conformance.simulator.engine.dialing import Person

    harness.clock.time_scale = 1.0
    harness.route_loopback()
    harness.app.reply(
        "/initiate", '<Response><Pause duration="1"/><SendDtmf>9</SendDtmf><Pause duration="30"/></Response>'
    )
    harness.app.reply("/answer", "<Response><Conference>holding</Conference></Response>")
    harness.app.reply("/answer-held", '<Response><Conference hold="true">holding</Conference></Response>')
    listener = harness.create_call()
    held = harness.create_call(answer="/answer-held")
    harness.app.wait(lambda: len(harness.app.events("/answer-held")) == 1)
    speaker = harness.create_call(to=LOOPBACK)

    def heard(call_id: str) -> list[str]:
        party = harness.engine.legs[call_id].peer
        assert isinstance(party, Person)
        return [s.data for s in party.heard if s.kind == "dtmf"]

    harness.app.wait(lambda: heard(listener) == ["9"])
    assert heard(held) == []
    conference = harness.http.get(f"/accounts/{ACCOUNT}/conferences", params={"name": "holding"}).json()[0]
    harness.http.post(f"/accounts/{ACCOUNT}/conferences/{conference['id']}", json={"status": "completed"})
    harness.clock.time_scale = None
    for call_id in (listener, held, speaker):
        harness.wait_ended(call_id)
