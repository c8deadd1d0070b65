"""Recordings, recording transcriptions, real-time transcriptions and account statistics."""

from __future__ import annotations

from typing import Literal

from starlette.responses import Response

from conformance.simulator.api_errors import ApiError, bad_request, not_found
from conformance.simulator.models import Recording, Transcription
from conformance.simulator.render import (
    realtime_transcription_json,
    realtime_transcription_summary,
    recording_json,
    transcription_json,
)
from conformance.simulator.runtime import Ctx, Operation, engine_call, json_response
from conformance.simulator.validation import Fields, parse_iso_time

__all__ = ["MEDIA_TYPES", "OPERATIONS", "media_response"]

MEDIA_TYPES = {"wav": "audio/vnd.wave", "mp3": "audio/mpeg"}
_ACCOUNT_RECORDINGS_CAP = 1000


def media_response(recording: Recording) -> Response:
    if recording.media is None:
        raise not_found("Recording media", recording.recording_id)
    return Response(recording.media, status_code=200, media_type=MEDIA_TYPES[recording.file_format])


async def list_account_recordings(ctx: Ctx) -> Response:
    to, from_ = ctx.query("to"), ctx.query("from")
    low = parse_iso_time("minStartTime", ctx.query("minStartTime"))
    high = parse_iso_time("maxStartTime", ctx.query("maxStartTime"))
    found: list[Recording] = []
    for rec in ctx.store.recordings_of_account(ctx.account.id):
        if to is not None and rec.to != to:
            continue
        if from_ is not None and rec.from_ != from_:
            continue
        if low is not None and (rec.start_time is None or rec.start_time < low):
            continue
        if high is not None and (rec.start_time is None or rec.start_time >= high):
            continue
        found.append(rec)
        if len(found) >= _ACCOUNT_RECORDINGS_CAP:
            break
    base = ctx.base
    return json_response([recording_json(base, r) for r in found])


async def update_recording_state(ctx: Ctx) -> Response:
    call = ctx.call()
    body = await ctx.json()
    value = Fields(body).enum("state", ("paused", "recording"), nullable=False)
    if value is None:
        raise bad_request("state", "is required")
    state: Literal["paused", "recording"] = "paused" if value == "paused" else "recording"
    if call.ended:
        raise ApiError(409, f"Call [{call.call_id}] cannot be modified in its current state",
                       rule="call-not-modifiable", error_id="")  # fmt: skip
    engine_call(lambda: ctx.engine.recording_state_changed(call, state))
    return Response(status_code=200)


async def list_call_recordings(ctx: Ctx) -> Response:
    # A (potentially empty) list, as the official spec says: the live API answers ``200 []`` for a
    # call id it does not know (the official Python SDK's smoke test asserts it), not 404.  Only
    # this account's recordings are listed, so another account's call id also lists nothing.
    call_id, account_id = ctx.param("callId"), ctx.account.id
    base = ctx.base
    found = (r for r in ctx.store.recordings_of_call(call_id) if r.account_id == account_id)
    return json_response([recording_json(base, r) for r in found])


async def get_call_recording(ctx: Ctx) -> Response:
    _, recording = ctx.call_recording()
    return json_response(recording_json(ctx.base, recording))


async def delete_recording(ctx: Ctx) -> Response:
    _, recording = ctx.call_recording()
    ctx.store.delete_recording(recording.recording_id)
    return Response(status_code=204)


async def download_call_recording(ctx: Ctx) -> Response:
    _, recording = ctx.call_recording()
    return media_response(recording)


async def delete_recording_media(ctx: Ctx) -> Response:
    _, recording = ctx.call_recording()
    if recording.media is None:
        raise not_found("Recording media", recording.recording_id)
    recording.media = None
    recording.status = "deleted"
    return Response(status_code=204)


async def get_transcription(ctx: Ctx) -> Response:
    _, recording = ctx.call_recording()
    if recording.transcription is None or recording.transcription.status != "available":
        raise not_found("Transcription for recording", recording.recording_id)
    return json_response(transcription_json(recording))


async def transcribe_recording(ctx: Ctx) -> Response:
    _, recording = ctx.call_recording()
    body = await ctx.json()
    f = Fields(body)
    f.url("callbackUrl", nullable=False)
    callback = f.callback("callbackUrl", "callbackMethod")
    tag = f.string("tag", max_len=4096)
    f.number("callbackTimeout", 1, 25, 15.0)
    f.boolean("detectLanguage")
    if recording.media is None:
        raise ApiError(400, f"Recording [{recording.recording_id}] has no media to transcribe",
                       rule="recording-without-media")  # fmt: skip
    previous = recording.transcription
    recording.transcription = Transcription(
        id=ctx.store.new_recording_transcription_id(), status="processing"
    )
    try:
        engine_call(lambda: ctx.engine.transcription_requested(recording, callback, tag))
    except ApiError:
        recording.transcription = previous
        raise
    return Response(status_code=204)


async def delete_transcription(ctx: Ctx) -> Response:
    _, recording = ctx.call_recording()
    if recording.transcription is None:
        raise not_found("Transcription for recording", recording.recording_id)
    recording.transcription = None
    return Response(status_code=204)


async def list_realtime_transcriptions(ctx: Ctx) -> Response:
    call = ctx.call()
    base = ctx.base
    return json_response(
        [realtime_transcription_summary(base, t) for t in ctx.store.realtime_transcriptions_of(call.call_id)]
    )


def _realtime(ctx: Ctx) -> str:
    call = ctx.call()
    transcription_id = ctx.param("transcriptionId")
    found = ctx.store.realtime_transcription(transcription_id)
    if found is None or found.call_id != call.call_id:
        raise not_found("Transcription", transcription_id)
    return transcription_id


async def get_realtime_transcription(ctx: Ctx) -> Response:
    found = ctx.store.realtime_transcription(_realtime(ctx))
    assert found is not None
    return json_response(realtime_transcription_json(found))


async def delete_realtime_transcription(ctx: Ctx) -> Response:
    ctx.store.delete_realtime_transcription(_realtime(ctx))
    return Response(status_code=200)


async def get_statistics(ctx: Ctx) -> Response:
    queued = ctx.store.queued_call_count(ctx.account.id)
    return json_response(
        {"currentCallQueueSize": queued, "maxCallQueueSize": ctx.account.max_call_queue_size}
    )


_CALL = "/accounts/{accountId}/calls/{callId}"
_REC = f"{_CALL}/recordings/{{recordingId}}"

OPERATIONS = [
    Operation(
        "listAccountCallRecordings", "GET", "/accounts/{accountId}/recordings", list_account_recordings
    ),
    Operation("updateCallRecordingState", "PUT", f"{_CALL}/recording", update_recording_state),
    Operation("listCallRecordings", "GET", f"{_CALL}/recordings", list_call_recordings),
    Operation("getCallRecording", "GET", _REC, get_call_recording),
    Operation("deleteRecording", "DELETE", _REC, delete_recording),
    Operation("downloadCallRecording", "GET", f"{_REC}/media", download_call_recording),
    Operation("deleteRecordingMedia", "DELETE", f"{_REC}/media", delete_recording_media),
    Operation("getRecordingTranscription", "GET", f"{_REC}/transcription", get_transcription),
    Operation("transcribeCallRecording", "POST", f"{_REC}/transcription", transcribe_recording),
    Operation("deleteRecordingTranscription", "DELETE", f"{_REC}/transcription", delete_transcription),
    Operation("listRealTimeTranscriptions", "GET", f"{_CALL}/transcriptions", list_realtime_transcriptions),
    Operation(
        "getRealTimeTranscription",
        "GET",
        f"{_CALL}/transcriptions/{{transcriptionId}}",
        get_realtime_transcription,
    ),
    Operation(
        "deleteRealTimeTranscription",
        "DELETE",
        f"{_CALL}/transcriptions/{{transcriptionId}}",
        delete_realtime_transcription,
    ),
    Operation("getStatistics", "GET", "/accounts/{accountId}/statistics", get_statistics),
]
