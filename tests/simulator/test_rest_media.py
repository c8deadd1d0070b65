"""Recordings, transcriptions, conferences and members over HTTP, on records seeded in the store."""

from __future__ import annotations

import io
import wave
from typing import Any

import httpx

from conformance.simulator import Simulator

from .conftest import (
    ACCOUNT,
    AUTH,
    OTHER,
    OTHER_AUTH,
    RecordingEngine,
    seed_call,
    seed_conference,
    seed_realtime,
    seed_transcribed,
)


def _engine(sim: Simulator) -> RecordingEngine:
    engine = sim.runtime.engine
    assert isinstance(engine, RecordingEngine)
    return engine


def test_call_recordings_metadata_media_and_deletion(
    quiet_sim: Simulator, quiet_client: httpx.Client
) -> None:
    store = quiet_sim.store
    call = seed_call(store)
    rec = seed_transcribed(store, call)
    base = f"/accounts/{ACCOUNT}/calls/{call.call_id}/recordings"
    listed = quiet_client.get(base).json()
    assert [r["recordingId"] for r in listed] == [rec.recording_id]
    meta: dict[str, Any] = quiet_client.get(f"{base}/{rec.recording_id}").json()
    assert meta["duration"] == "PT2S"
    assert meta["fileFormat"] == "wav"
    assert meta["status"] == "complete"
    assert meta["mediaUrl"] == f"{quiet_client.base_url}{base}/{rec.recording_id}/media"
    assert meta["transcription"]["status"] == "available"
    assert rec.recording_id.startswith("r-")
    assert len(rec.recording_id) == 47
    assert rec.recording_id in [
        r["recordingId"] for r in quiet_client.get(f"/accounts/{ACCOUNT}/recordings").json()
    ]

    media = quiet_client.get(meta["mediaUrl"])
    assert media.status_code == 200
    assert media.headers["content-type"] == "audio/vnd.wave"
    with wave.open(io.BytesIO(media.content)) as w:
        assert w.getnframes() / w.getframerate() == 0.5

    text = quiet_client.get(f"{base}/{rec.recording_id}/transcription").json()
    assert text["transcripts"][0]["text"] == "hello there"
    assert 0 <= text["clips"][0]["confidence"] <= 1

    assert quiet_client.delete(f"{base}/{rec.recording_id}/transcription").status_code == 204
    assert quiet_client.get(f"{base}/{rec.recording_id}/transcription").status_code == 404
    assert quiet_client.delete(f"{base}/{rec.recording_id}/media").status_code == 204
    assert quiet_client.get(f"{base}/{rec.recording_id}/media").status_code == 404
    assert quiet_client.get(f"{base}/{rec.recording_id}").json()["status"] == "deleted"
    assert quiet_client.delete(f"{base}/{rec.recording_id}").status_code == 204
    assert quiet_client.get(f"{base}/{rec.recording_id}").status_code == 404


def test_mp3_media_type_and_transcription_request(quiet_sim: Simulator, quiet_client: httpx.Client) -> None:
    store = quiet_sim.store
    call = seed_call(store)
    rec = seed_transcribed(store, call)
    rec.file_format = "mp3"
    rec.media = b"ID3fake-mp3"
    rec.transcription = None
    url = f"/accounts/{ACCOUNT}/calls/{call.call_id}/recordings/{rec.recording_id}"
    r = quiet_client.get(f"{url}/media")
    assert r.headers["content-type"] == "audio/mpeg"
    assert r.content == b"ID3fake-mp3"
    r = quiet_client.post(
        f"{url}/transcription", json={"callbackUrl": "https://e.test/t", "tag": "x", "callbackTimeout": 5.5}
    )
    assert r.status_code == 204
    name, args = _engine(quiet_sim).calls[-1]
    assert name == "transcription_requested"
    assert args[1].url == "https://e.test/t"
    assert args[2] == "x"
    assert rec.transcription is not None
    assert rec.transcription.id.startswith("t-")
    assert len(rec.transcription.id) == 38  # t- + a UUID, the documented recording transcription id
    assert rec.transcription.status == "processing"


def test_recording_state_reaches_the_engine(quiet_sim: Simulator, quiet_client: httpx.Client) -> None:
    call = seed_call(quiet_sim.store)
    r = quiet_client.put(f"/accounts/{ACCOUNT}/calls/{call.call_id}/recording", json={"state": "paused"})
    assert r.status_code == 200
    assert _engine(quiet_sim).calls[-1][0] == "recording_state_changed"
    assert _engine(quiet_sim).calls[-1][1][1] == "paused"


def test_conferences_members_and_their_recordings(quiet_sim: Simulator, quiet_client: httpx.Client) -> None:
    store = quiet_sim.store
    call = seed_call(store)
    conf, rec = seed_conference(store, call, name="weekly-sync")
    base = f"/accounts/{ACCOUNT}/conferences"
    listed = quiet_client.get(base, params={"name": "weekly-sync"}).json()
    assert [c["id"] for c in listed] == [conf.id]
    assert "activeMembers" not in listed[0]
    assert conf.id.startswith("conf-")
    assert len(conf.id) == 50
    one = quiet_client.get(f"{base}/{conf.id}").json()
    assert [m["callId"] for m in one["activeMembers"]] == [call.call_id]
    member_url = one["activeMembers"][0]["memberUrl"]
    assert member_url.endswith(f"/conferences/{conf.id}/members/{call.call_id}")
    assert quiet_client.get(member_url).json()["mute"] is False

    r = quiet_client.put(member_url, json={"mute": True, "callIdsToCoach": ["c-abc"]})
    assert r.status_code == 204
    member = quiet_client.get(member_url).json()
    assert (member["mute"], member["hold"], member["callIdsToCoach"]) == (True, False, ["c-abc"])
    assert _engine(quiet_sim).calls[-1][0] == "member_updated"

    recs = quiet_client.get(f"{base}/{conf.id}/recordings").json()
    assert [r["recordingId"] for r in recs] == [rec.recording_id]
    assert recs[0]["conferenceId"] == conf.id
    assert (recs[0]["name"], recs[0]["recordingName"]) == ("weekly-sync", "conf-recording")
    media = quiet_client.get(f"{base}/{conf.id}/recordings/{rec.recording_id}/media")
    assert media.headers["content-type"] == "audio/vnd.wave"
    assert media.content == rec.media

    xml = '<?xml version="1.0" encoding="UTF-8"?><Bxml><SpeakSentence>hello room</SpeakSentence></Bxml>'
    r = quiet_client.put(f"{base}/{conf.id}/bxml", content=xml, headers={"content-type": "application/xml"})
    assert r.status_code == 204, r.text
    r = quiet_client.post(f"{base}/{conf.id}", json={"redirectUrl": "https://e.test/conf"})
    assert r.status_code == 204
    r = quiet_client.post(f"{base}/{conf.id}", json={"status": "completed"})
    assert r.status_code == 204
    assert _engine(quiet_sim).calls[-1][1][1] == "completed"

    # the recording engine does not end conferences itself; end it in the store and try again
    store.complete_conference(conf)
    r = quiet_client.post(f"{base}/{conf.id}", json={"status": "completed"})
    assert r.status_code == 409
    assert quiet_client.get(member_url).status_code == 404


def test_conference_bxml_is_checked_in_conference_context(
    quiet_sim: Simulator, quiet_client: httpx.Client
) -> None:
    conf, _ = seed_conference(quiet_sim.store, seed_call(quiet_sim.store), name="ctx")
    # <Gather> is call-only: not allowed in conference BXML
    xml = '<?xml version="1.0" encoding="UTF-8"?><Bxml><Gather maxDigits="1"/></Bxml>'
    r = quiet_client.put(
        f"/accounts/{ACCOUNT}/conferences/{conf.id}/bxml",
        content=xml,
        headers={"content-type": "application/xml"},
    )
    try:
        import conformance.bxml as bxml_package

        has_validator = hasattr(bxml_package, "iter_errors")
    except ImportError:
        has_validator = False
    if has_validator:
        assert r.status_code == 400
        assert r.json()["description"].startswith("Invalid BXML:")
    else:  # only well-formedness is checked until the BXML package lands
        assert r.status_code == 204


def test_realtime_transcriptions(quiet_sim: Simulator, quiet_client: httpx.Client) -> None:
    call = seed_call(quiet_sim.store)
    t = seed_realtime(quiet_sim.store, call)
    base = f"/accounts/{ACCOUNT}/calls/{call.call_id}/transcriptions"
    listed = quiet_client.get(base).json()
    assert listed == [
        {
            "transcriptionId": t.transcription_id,
            "transcriptionName": "live",
            "transcriptionUrl": f"{quiet_client.base_url}{base}/{t.transcription_id}",
        }
    ]
    one = quiet_client.get(f"{base}/{t.transcription_id}").json()
    assert one["tracks"][0]["transcript"] == "hi"
    r = quiet_client.delete(f"{base}/{t.transcription_id}")
    assert r.status_code == 200
    assert quiet_client.get(f"{base}/{t.transcription_id}").status_code == 404


def test_recordings_of_other_calls_are_not_reachable(quiet_sim: Simulator) -> None:
    store = quiet_sim.store
    a, b = seed_call(store), seed_call(store)
    rec = seed_transcribed(store, a)
    with httpx.Client(base_url=quiet_sim.base_url, auth=AUTH) as c:
        r = c.get(f"/accounts/{ACCOUNT}/calls/{b.call_id}/recordings/{rec.recording_id}")
        assert r.status_code == 404
        assert r.json()["description"] == f"Recording [{rec.recording_id}] not found"


def test_lists_under_an_unknown_parent_are_empty_but_single_resources_are_not_found(
    quiet_sim: Simulator, quiet_client: httpx.Client
) -> None:
    # The live API answers listCallRecordings for a call it does not know with 200 [] (the official
    # SDK's smoke test asserts it); conference recordings are listed the same way.  A call or
    # conference of another account is unknown here: it lists nothing and leaks nothing.
    store = quiet_sim.store
    theirs = seed_call(store, account=OTHER)
    seed_transcribed(store, theirs)
    their_conf, their_rec = seed_conference(store, theirs, name="their-room")
    unknown_call = "c-00000000-00000000-0000-4000-8000-000000000000"
    unknown_conf = "conf-00000000-00000000-0000-4000-8000-000000000000"
    for path in (
        f"/accounts/{ACCOUNT}/calls/{unknown_call}/recordings",
        f"/accounts/{ACCOUNT}/calls/not a call id/recordings",
        f"/accounts/{ACCOUNT}/calls/{theirs.call_id}/recordings",
        f"/accounts/{ACCOUNT}/conferences/{unknown_conf}/recordings",
        f"/accounts/{ACCOUNT}/conferences/{their_conf.id}/recordings",
    ):
        r = quiet_client.get(path)
        assert (r.status_code, r.json()) == (200, []), path
    with httpx.Client(base_url=quiet_sim.base_url, auth=OTHER_AUTH) as them:
        listed = them.get(f"/accounts/{OTHER}/calls/{theirs.call_id}/recordings").json()
        assert len(listed) == 1
        assert [
            r["recordingId"]
            for r in them.get(f"/accounts/{OTHER}/conferences/{their_conf.id}/recordings").json()
        ] == [their_rec.recording_id]
    for path in (
        f"/accounts/{ACCOUNT}/calls/{unknown_call}",
        f"/accounts/{ACCOUNT}/calls/{unknown_call}/recordings/{their_rec.recording_id}",
        f"/accounts/{ACCOUNT}/conferences/{unknown_conf}",
        f"/accounts/{ACCOUNT}/conferences/{their_conf.id}/recordings/{their_rec.recording_id}",
        # no source shows the live answer for this list, whose description does not say "empty"
        f"/accounts/{ACCOUNT}/calls/{unknown_call}/transcriptions",
    ):
        r = quiet_client.get(path)
        assert r.status_code == 404, path
        assert r.json()["description"].endswith("not found"), r.text
