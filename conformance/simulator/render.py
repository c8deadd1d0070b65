"""Records as the JSON bodies the real API returns (callState, conference, recording metadata, ...)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from conformance.simulator.models import (
    Call,
    Conference,
    ConferenceMember,
    RealTimeTranscription,
    Recording,
)

__all__ = [
    "API_PREFIX",
    "MASK",
    "api_root",
    "call_state",
    "call_url",
    "conference_json",
    "conference_recording_json",
    "create_call_response",
    "iso_duration",
    "iso_time",
    "media_url",
    "member_json",
    "realtime_transcription_json",
    "realtime_transcription_summary",
    "realtime_transcription_url",
    "recording_json",
    "recording_transcription_url",
    "transcription_json",
]

MASK = "*****"
# The path every URL of the live API starts with (``https://voice.bandwidth.com/api/v2/accounts/...``).
API_PREFIX = "/api/v2"


def iso_time(value: datetime | None) -> str | None:
    """``2026-11-21T23:00:00.123Z`` (UTC, milliseconds) or ``None``."""
    if value is None:
        return None
    return _format_time(value)


@lru_cache(maxsize=4096)
def _format_time(value: datetime) -> str:
    # A record's timestamps are read far more often than they change: format each once.
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_duration(seconds: float) -> str:
    """An ISO 8601 duration such as ``PT13.67S``."""
    text = f"{max(seconds, 0.0):.3f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def _mask(value: str | None) -> str | None:
    return None if value is None else MASK


def api_root(origin: str) -> str:
    """``origin`` (``http://127.0.0.1:8080``) with the API prefix the live API's URLs carry.

    The call engine knows only the server's origin; the webhooks it sends carry ``callUrl`` and
    ``mediaUrl`` as the live platform writes them, under ``/api/v2``.  An origin that already ends
    with the prefix is returned unchanged.
    """
    root = origin.rstrip("/")
    return root if root.endswith(API_PREFIX) else root + API_PREFIX


# Every URL of a call, recording or media the simulator hands out (REST bodies, Location headers,
# webhooks) is built by the functions below, so the REST and webhook forms cannot drift apart.
# ``base`` is the API base: the prefix a REST client used, or :func:`api_root` for webhooks.
def call_url(base: str, call: Call) -> str:
    return f"{base.rstrip('/')}/accounts/{call.account_id}/calls/{call.call_id}"


def create_call_response(base: str, call: Call) -> dict[str, Any]:
    answer, disconnect = call.answer, call.disconnect
    return {
        "applicationId": call.application_id,
        "accountId": call.account_id,
        "callId": call.call_id,
        "to": call.to,
        "from": call.from_,
        "enqueuedTime": iso_time(call.enqueued_time),
        "callUrl": call_url(base, call),
        "callTimeout": call.call_timeout,
        "callbackTimeout": call.callback_timeout,
        "tag": call.tag,
        "answerMethod": answer.method,
        "answerUrl": answer.url,
        "answerFallbackMethod": answer.fallback_method,
        "answerFallbackUrl": answer.fallback_url,
        "disconnectMethod": disconnect.method,
        "disconnectUrl": disconnect.url,
        "username": answer.username,
        "password": _mask(answer.password),
        "fallbackUsername": answer.fallback_username,
        "fallbackPassword": _mask(answer.fallback_password),
        "priority": call.priority,
    }


def call_state(call: Call) -> dict[str, Any]:
    body: dict[str, Any] = {
        "applicationId": call.application_id,
        "accountId": call.account_id,
        "callId": call.call_id,
        "parentCallId": call.parent_call_id,
        "to": call.to,
        "from": call.from_,
        "direction": call.direction,
        "state": call.state,
        "stirShaken": call.stir_shaken,
        "identity": call.identity,
        "enqueuedTime": iso_time(call.enqueued_time),
        "startTime": iso_time(call.start_time),
        "answerTime": iso_time(call.answer_time),
        "endTime": iso_time(call.end_time),
        "disconnectCause": call.disconnect_cause,
        "errorMessage": call.error_message,
        "errorId": call.error_id,
        "lastUpdate": iso_time(call.last_update),
    }
    return body


def _conference_url(base: str, conference: Conference) -> str:
    return f"{base.rstrip('/')}/accounts/{conference.account_id}/conferences/{conference.id}"


def _recording_url(base: str, rec: Recording) -> str:
    owner = f"conferences/{rec.conference_id}" if rec.conference_id is not None else f"calls/{rec.call_id}"
    return f"{base.rstrip('/')}/accounts/{rec.account_id}/{owner}/recordings/{rec.recording_id}"


def media_url(base: str, rec: Recording) -> str:
    """Where a recording's media is downloaded (under its call, or its conference)."""
    return f"{_recording_url(base, rec)}/media"


def recording_transcription_url(base: str, rec: Recording) -> str:
    """Where a call recording's transcription is read (getRecordingTranscription)."""
    return f"{_recording_url(base, rec)}/transcription"


def realtime_transcription_url(base: str, account_id: str, call_id: str, transcription_id: str) -> str:
    """Where a real-time transcription is read (getRealTimeTranscription)."""
    return f"{base.rstrip('/')}/accounts/{account_id}/calls/{call_id}/transcriptions/{transcription_id}"


def member_json(base: str, conference: Conference, member: ConferenceMember) -> dict[str, Any]:
    return {
        "callId": member.call_id,
        "conferenceId": member.conference_id,
        "memberUrl": f"{_conference_url(base, conference)}/members/{member.call_id}",
        "mute": member.mute,
        "hold": member.hold,
        "callIdsToCoach": member.call_ids_to_coach,
    }


def conference_json(base: str, conference: Conference, *, with_members: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": conference.id,
        "name": conference.name,
        "createdTime": iso_time(conference.created_time),
        "completedTime": iso_time(conference.completed_time),
        "conferenceEventUrl": conference.event.url,
        "conferenceEventMethod": conference.event.method,
        "tag": conference.tag,
    }
    if with_members:
        body["activeMembers"] = [member_json(base, conference, m) for m in conference.members.values()]
    return body


def _media_url(base: str, rec: Recording) -> str | None:
    if rec.media is None or rec.status not in ("complete", "partial"):
        return None
    return media_url(base, rec)


def _recording_common(base: str, rec: Recording) -> dict[str, Any]:
    return {
        "accountId": rec.account_id,
        "recordingId": rec.recording_id,
        "duration": iso_duration(rec.duration_seconds),
        "channels": rec.channels,
        "startTime": iso_time(rec.start_time),
        "endTime": iso_time(rec.end_time),
        "fileFormat": rec.file_format,
        "status": rec.status,
        "mediaUrl": _media_url(base, rec),
        "recordingName": rec.name,
    }


def conference_recording_json(base: str, conference: Conference, rec: Recording) -> dict[str, Any]:
    """conferenceRecordingMetadata: ``name`` is the conference's name (official spec and SDK model)."""
    body = {
        "conferenceId": conference.id,
        "name": conference.name,
        **_recording_common(base, rec),
    }
    return {k: v for k, v in body.items() if v is not None or k == "mediaUrl"}


def recording_json(base: str, rec: Recording) -> dict[str, Any]:
    """callRecordingMetadata (a conference recording is :func:`conference_recording_json`)."""
    body: dict[str, Any] = {
        "applicationId": rec.application_id,
        "callId": rec.call_id,
        "parentCallId": rec.parent_call_id,
        "to": rec.to,
        "from": rec.from_,
        "transferCallerId": rec.transfer_caller_id,
        "transferTo": rec.transfer_to,
        "direction": rec.direction,
        **_recording_common(base, rec),
    }
    if rec.transcription is not None:
        t = rec.transcription
        body["transcription"] = {
            "id": t.id,
            "status": t.status,
            "completedTime": iso_time(t.completed_time),
            "url": recording_transcription_url(base, rec),
        }
    return {k: v for k, v in body.items() if v is not None or k in ("mediaUrl", "transcription")}


def transcription_json(rec: Recording) -> dict[str, Any]:
    """recordingTranscriptions: one transcript, and one clip spanning the recording."""
    t = rec.transcription
    assert t is not None
    return {
        "transcripts": [{"speaker": 0, "text": t.text, "confidence": t.confidence}],
        "clips": [
            {
                "speaker": 0,
                "text": t.text,
                "confidence": t.confidence,
                "startTimeSeconds": 0.0,
                "endTimeSeconds": rec.duration_seconds,
            }
        ],
    }


def realtime_transcription_summary(base: str, t: RealTimeTranscription) -> dict[str, Any]:
    return {
        "transcriptionId": t.transcription_id,
        "transcriptionName": t.name,
        "transcriptionUrl": realtime_transcription_url(base, t.account_id, t.call_id, t.transcription_id),
    }


def realtime_transcription_json(t: RealTimeTranscription) -> dict[str, Any]:
    return {
        "accountId": t.account_id,
        "callId": t.call_id,
        "transcriptionId": t.transcription_id,
        "tracks": list(t.tracks),
    }
