"""StartRecording/Pause/Resume/Stop (paused time excluded), the recording-state API, MP3, PlayAudio."""

from __future__ import annotations

import io
import wave

from werkzeug import Response

from conformance.simulator.engine.media import mp3_duration

from .conftest import ACCOUNT, LOOPBACK, Harness


def _wav(seconds: float, rate: int = 16000, channels: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x10\x20" * int(seconds * rate) * channels)
    return out.getvalue()


def test_paused_time_is_excluded(harness: Harness) -> None:
    harness.app.reply(
        "/answer",
        '<Response><StartRecording recordingAvailableUrl="/available" multiChannel="true"/>'
        '<Pause duration="3"/><PauseRecording/><Pause duration="100"/><ResumeRecording/>'
        '<Pause duration="2"/><StopRecording/><Pause duration="1"/></Response>',
    )
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    available = harness.app.wait_event("recordingAvailable")[0]
    assert available.body["duration"] == "PT5S"
    assert available.body["channels"] == 2
    recording_id = available.body["recordingId"]
    media = harness.http.get(f"/accounts/{ACCOUNT}/calls/{call_id}/recordings/{recording_id}/media")
    with wave.open(io.BytesIO(media.content)) as wav:
        assert wav.getnchannels() == 2
        assert wav.getnframes() == 5 * 8000
    listed = harness.http.get(f"/accounts/{ACCOUNT}/calls/{call_id}/recordings").json()
    assert [r["recordingId"] for r in listed] == [recording_id]


def test_recording_stops_with_the_call(harness: Harness) -> None:
    harness.app.reply(
        "/answer",
        '<Response><StartRecording recordingAvailableUrl="/available"/><Pause duration="4"/></Response>',
    )
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    available = harness.app.wait_event("recordingAvailable")[0]
    assert available.body["duration"] == "PT4S"
    names = harness.app.names(call_id)
    assert names.index("recordingAvailable") < names.index("disconnect")


def test_recording_state_endpoint_pauses_and_resumes(harness: Harness) -> None:
    harness.clock.time_scale = 1.0
    harness.app.reply(
        "/answer",
        '<Response><StartRecording recordingAvailableUrl="/available"/><Pause duration="30"/></Response>',
    )
    call_id = harness.create_call()
    harness.app.wait(lambda: harness.engine.legs[call_id].recorder is not None)
    url = f"/accounts/{ACCOUNT}/calls/{call_id}/recording"
    assert harness.http.put(url, json={"state": "paused"}).status_code == 200
    recorder = harness.engine.legs[call_id].recorder
    assert recorder is not None
    harness.app.wait(lambda: recorder.paused)
    assert harness.http.put(url, json={"state": "recording"}).status_code == 200
    harness.app.wait(lambda: not recorder.paused)
    harness.http.post(f"/accounts/{ACCOUNT}/calls/{call_id}", json={"state": "completed"})
    harness.wait_ended(call_id)
    available = harness.app.wait_event("recordingAvailable")[0]
    assert available.body["status"] == "complete"


def test_mp3_recording_is_an_mpeg_stream_of_the_right_length(harness: Harness) -> None:
    harness.app.reply(
        "/answer",
        '<Response><Record fileFormat="mp3" maxDuration="3" recordingAvailableUrl="/available"/></Response>',
    )
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    available = harness.app.wait_event("recordingAvailable")[0]
    assert available.body["fileFormat"] == "mp3"
    media = harness.http.get(
        f"/accounts/{ACCOUNT}/calls/{call_id}/recordings/{available.body['recordingId']}/media"
    )
    assert media.headers["content-type"].startswith("audio/mpeg")
    duration = mp3_duration(media.content)
    assert duration is not None
    assert abs(duration - 3.0) < 0.08


def test_play_audio_lasts_as_long_as_the_media_and_is_recorded(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply("/prompt.wav", lambda _: Response(_wav(2.5), content_type="audio/wav"))
    harness.app.reply(
        "/initiate", '<Response><PlayAudio>/prompt.wav</PlayAudio><Pause duration="1"/><Hangup/></Response>'
    )
    harness.app.reply(
        "/answer",
        '<Response><Record recordingAvailableUrl="/available" maxDuration="60" silenceTimeout="5"/>'
        "</Response>",
    )
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    available = harness.app.wait_event("recordingAvailable")[0]
    assert available.body["duration"] == "PT3.5S"  # 2.5 s of audio, 1 s of pause, then the hangup
    media = harness.http.get(
        f"/accounts/{ACCOUNT}/calls/{call_id}/recordings/{available.body['recordingId']}/media"
    )
    with wave.open(io.BytesIO(media.content)) as wav:
        frames = wav.readframes(wav.getnframes())
    assert frames[:4] == b"\x10\x20\x10\x20"  # the played samples, resampled to 8 kHz mono


def test_record_silence_timeout(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><SpeakSentence>one two three four five</SpeakSentence><Pause duration="60"/></Response>',
    )
    harness.app.reply(
        "/answer",
        '<Response><Record recordCompleteUrl="/done" silenceTimeout="3" maxDuration="60"/></Response>',
    )
    harness.app.reply("/done", "<Response><Hangup/></Response>")
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    complete = harness.app.wait_event("recordComplete")[0]
    assert complete.body["duration"] == "PT5S"  # 2 s of speech, then 3 s of silence


def test_transcription_requested_through_the_api(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate", "<Response><SpeakSentence>the quick brown fox</SpeakSentence><Hangup/></Response>"
    )
    harness.app.reply(
        "/answer", '<Response><Record recordingAvailableUrl="/available" maxDuration="20"/></Response>'
    )
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    recording_id = harness.app.wait_event("recordingAvailable")[0].body["recordingId"]
    url = f"/accounts/{ACCOUNT}/calls/{call_id}/recordings/{recording_id}/transcription"
    response = harness.http.post(url, json={"callbackUrl": harness.app.url("/transcribed"), "tag": "asked"})
    assert response.status_code == 204
    transcribed = harness.app.wait_event("transcriptionAvailable")[0]
    assert transcribed.path == "/transcribed"
    assert transcribed.body["tag"] == "asked"
    assert transcribed.body["recordingId"] == recording_id
    assert transcribed.body["transcription"]["status"] == "available"
    text = harness.http.get(url).json()
    assert "the quick brown fox" in str(text)
