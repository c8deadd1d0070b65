"""The official ``bandwidth-sdk`` drives every Voice operation it has against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.simulator import Simulator
from conformance.simulator.lifecycle import LifecycleEngine

from .conftest import ACCOUNT, APP, FROM, TO, seed_call, seed_conference, seed_realtime, seed_transcribed

bandwidth = pytest.importorskip("bandwidth")
from bandwidth import exceptions as bw_exc  # noqa: E402

BXML = '<?xml version="1.0" encoding="UTF-8"?><Bxml><SpeakSentence>hello</SpeakSentence></Bxml>'


@pytest.fixture(scope="module")
def sdk_sim() -> Iterator[Simulator]:
    with Simulator(engine_factory=LifecycleEngine) as simulator:
        yield simulator


def _client(sim: Simulator, username: str = "bw-user", password: str = "bw-pass", prefix: str = "") -> Any:
    config = bandwidth.Configuration(
        username=username, password=password, host=sim.base_url + prefix, ignore_operation_servers=True
    )
    return bandwidth.ApiClient(config)


@pytest.fixture(scope="module")
def api(sdk_sim: Simulator) -> Iterator[Any]:
    with _client(sdk_sim, prefix="/api/v2") as client:
        yield client


def test_calls_api_round_trip(api: Any, sdk_sim: Simulator) -> None:
    calls = bandwidth.CallsApi(api)
    created = calls.create_call(
        ACCOUNT,
        bandwidth.CreateCall(
            to=TO,
            var_from=FROM,
            application_id=APP,
            answer_url="https://example.test/answer",
            password="secret",
            tag="sdk",
            machine_detection=bandwidth.MachineDetectionConfiguration(mode="async", detection_timeout=5),
        ),
    )
    assert isinstance(created, bandwidth.CreateCallResponse)
    assert created.call_id.startswith("c-")
    assert created.password == "*****"
    assert created.tag == "sdk"
    state = calls.get_call_state(ACCOUNT, created.call_id)
    assert isinstance(state, bandwidth.CallState)
    assert state.call_id == created.call_id
    listed = calls.list_calls(ACCOUNT, to=TO, page_size=1000)
    assert created.call_id in [c.call_id for c in listed]
    answered = seed_call(sdk_sim.store)
    calls.update_call(ACCOUNT, answered.call_id, bandwidth.UpdateCall(redirect_url="https://example.test/r"))
    calls.update_call_bxml(ACCOUNT, answered.call_id, BXML)
    calls.update_call(
        ACCOUNT, answered.call_id, bandwidth.UpdateCall(state=bandwidth.CallStateEnum.COMPLETED)
    )
    assert calls.get_call_state(ACCOUNT, answered.call_id).state == "disconnected"
    with pytest.raises(bw_exc.ConflictException) as info:
        calls.update_call(
            ACCOUNT, answered.call_id, bandwidth.UpdateCall(state=bandwidth.CallStateEnum.COMPLETED)
        )
    assert info.value.status == 409


def test_conferences_api(api: Any, sdk_sim: Simulator) -> None:
    conferences = bandwidth.ConferencesApi(api)
    call = seed_call(sdk_sim.store)
    conf, rec = seed_conference(sdk_sim.store, call, name="sdk-conf")
    listed = conferences.list_conferences(ACCOUNT, name="sdk-conf")
    assert [c.id for c in listed] == [conf.id]
    one = conferences.get_conference(ACCOUNT, conf.id)
    assert one.active_members[0].call_id == call.call_id
    member = conferences.get_conference_member(ACCOUNT, conf.id, call.call_id)
    assert isinstance(member, bandwidth.ConferenceMember)
    conferences.update_conference_member(
        ACCOUNT, conf.id, call.call_id, bandwidth.UpdateConferenceMember(mute=True, call_ids_to_coach=[])
    )
    assert conferences.get_conference_member(ACCOUNT, conf.id, call.call_id).mute is True
    conferences.update_conference_bxml(ACCOUNT, conf.id, BXML)
    recs = conferences.list_conference_recordings(ACCOUNT, conf.id)
    assert [r.recording_id for r in recs] == [rec.recording_id]
    meta = conferences.get_conference_recording(ACCOUNT, conf.id, rec.recording_id)
    assert meta.conference_id == conf.id
    assert (meta.name, meta.recording_name) == ("sdk-conf", rec.name)
    media = conferences.download_conference_recording(ACCOUNT, conf.id, rec.recording_id)
    assert bytes(media) == rec.media
    conferences.update_conference(
        ACCOUNT, conf.id, bandwidth.UpdateConference(redirect_url="https://example.test/c")
    )
    conferences.update_conference(
        ACCOUNT, conf.id, bandwidth.UpdateConference(status=bandwidth.ConferenceStateEnum.COMPLETED)
    )
    assert conferences.get_conference(ACCOUNT, conf.id).completed_time is not None


def test_recordings_api(api: Any, sdk_sim: Simulator) -> None:
    recordings = bandwidth.RecordingsApi(api)
    call = seed_call(sdk_sim.store)
    rec = seed_transcribed(sdk_sim.store, call)
    assert rec.recording_id in [r.recording_id for r in recordings.list_account_call_recordings(ACCOUNT)]
    assert [r.recording_id for r in recordings.list_call_recordings(ACCOUNT, call.call_id)] == [
        rec.recording_id
    ]
    assert recordings.list_call_recordings(ACCOUNT, "c-unknown") == []
    meta = recordings.get_call_recording(ACCOUNT, call.call_id, rec.recording_id)
    assert meta.transcription.status == "available"
    assert meta.duration == "PT2S"
    text = recordings.get_recording_transcription(ACCOUNT, call.call_id, rec.recording_id)
    assert text.transcripts[0].text == "hello there"
    assert bytes(recordings.download_call_recording(ACCOUNT, call.call_id, rec.recording_id)) == rec.media
    recordings.update_call_recording_state(
        ACCOUNT, call.call_id, bandwidth.UpdateCallRecording(state=bandwidth.RecordingStateEnum.PAUSED)
    )
    recordings.delete_recording_transcription(ACCOUNT, call.call_id, rec.recording_id)
    recordings.transcribe_call_recording(
        ACCOUNT,
        call.call_id,
        rec.recording_id,
        bandwidth.TranscribeRecording(callback_url="https://example.test/t"),
    )
    assert rec.transcription is not None
    recordings.delete_recording_media(ACCOUNT, call.call_id, rec.recording_id)
    recordings.delete_recording(ACCOUNT, call.call_id, rec.recording_id)
    with pytest.raises(bw_exc.NotFoundException):
        recordings.get_call_recording(ACCOUNT, call.call_id, rec.recording_id)


def test_statistics_and_transcriptions_api(api: Any, sdk_sim: Simulator) -> None:
    stats = bandwidth.StatisticsApi(api).get_statistics(ACCOUNT)
    assert isinstance(stats, bandwidth.AccountStatistics)
    assert stats.max_call_queue_size > 0
    transcriptions = bandwidth.TranscriptionsApi(api)
    call = seed_call(sdk_sim.store)
    t = seed_realtime(sdk_sim.store, call)
    listed = transcriptions.list_real_time_transcriptions(ACCOUNT, call.call_id)
    assert [x.transcription_id for x in listed] == [t.transcription_id]
    one = transcriptions.get_real_time_transcription(ACCOUNT, call.call_id, t.transcription_id)
    assert one.tracks[0].transcript == "hi"
    transcriptions.delete_real_time_transcription(ACCOUNT, call.call_id, t.transcription_id)
    with pytest.raises(bw_exc.NotFoundException):
        transcriptions.get_real_time_transcription(ACCOUNT, call.call_id, t.transcription_id)


def test_error_paths_raise_with_their_status(sdk_sim: Simulator) -> None:
    body = bandwidth.CreateCall(to=TO, var_from=FROM, application_id=APP, answer_url="https://example.test/a")
    with _client(sdk_sim, password="wrong") as bad:
        with pytest.raises(bw_exc.UnauthorizedException) as e401:
            bandwidth.CallsApi(bad).create_call(ACCOUNT, body)
        assert e401.value.status == 401
    with _client(sdk_sim, "bw-other", "bw-other-pass") as other:
        with pytest.raises(bw_exc.ForbiddenException) as e403:
            bandwidth.CallsApi(other).list_calls(ACCOUNT)
        assert e403.value.status == 403
    with _client(sdk_sim) as client:
        calls = bandwidth.CallsApi(client)
        with pytest.raises(bw_exc.NotFoundException) as e404:
            calls.get_call_state(ACCOUNT, "c-00000000-00000000-0000-4000-8000-000000000000")
        assert e404.value.status == 404
        assert "not found" in (e404.value.body or "")
        with pytest.raises(bw_exc.BadRequestException) as e400:
            calls.create_call(
                ACCOUNT,
                bandwidth.CreateCall(
                    to="not-a-number", var_from=FROM, application_id=APP, answer_url="https://e.test"
                ),
            )
        assert e400.value.status == 400
        assert "Invalid to" in (e400.value.body or "")


def test_every_sdk_voice_operation_is_served() -> None:
    import re

    from conformance.simulator.app import OPERATIONS

    served = {re.sub(r"(?<!^)(?=[A-Z])", "_", op.operation_id).lower() for op in OPERATIONS}
    sdk: set[str] = set()
    for cls in (
        bandwidth.CallsApi,
        bandwidth.ConferencesApi,
        bandwidth.RecordingsApi,
        bandwidth.StatisticsApi,
        bandwidth.TranscriptionsApi,
    ):
        sdk |= {
            name
            for name in vars(cls)
            if not name.startswith("_") and not name.endswith(("_with_http_info", "_without_preload_content"))
        }
    assert sdk == served
    assert len(served) == 28
