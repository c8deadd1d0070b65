"""Webhook payloads: build every field the engine knows, keep what the contract documents.

The engine builds a payload from the call's record plus event-specific fields, then
:func:`shape` keeps exactly the properties the contract's ``webhooks`` entry for that event lists
(``conformance.webhooks.events``) and drops fields without a value, so the simulator can never send
a field the contract does not document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from conformance.simulator import render
from conformance.simulator.models import Call, Recording
from conformance.webhooks.events import event


def iso(moment: datetime | None) -> str | None:
    """``2026-01-02T03:04:05.678Z`` (UTC, milliseconds), or ``None``."""
    if moment is None:
        return None
    # isoformat is C all the way (strftime was 2.4% of the engine's CPU in bench/engine.py); its
    # first 23 characters are the date and time to the millisecond, before any UTC offset.
    return moment.isoformat(timespec="milliseconds")[:23] + "Z"


def iso_duration(seconds: float) -> str:
    """An ISO-8601 duration as the platform writes it, e.g. ``PT13.67S``."""
    seconds = max(0.0, seconds)
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


@cache
def _allowed(name: str) -> frozenset[str]:
    return frozenset(event(name).properties)


def shape(name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` restricted to the contract's fields for event ``name``, without empty values.

    ``eventType`` is always set to ``name``.  ``KeyError`` if the contract has no such event.
    """
    allowed = _allowed(name)
    out: dict[str, Any] = {"eventType": name} if "eventType" in allowed else {}
    for key, value in payload.items():
        if key in allowed and value is not None and key != "eventType":
            out[key] = value
    return out


def call_fields(call: Call, base_url: str, event_time: datetime) -> dict[str, Any]:
    """The fields every call event shares, from the call's record."""
    return {
        "eventTime": iso(event_time),
        "accountId": call.account_id,
        "applicationId": call.application_id,
        "from": call.from_,
        "to": call.to,
        "direction": call.direction,
        "callId": call.call_id,
        "callUrl": call_url(base_url, call),
        "parentCallId": call.parent_call_id,
        "enqueuedTime": iso(call.enqueued_time),
        "startTime": iso(call.start_time),
        "answerTime": iso(call.answer_time),
        "tag": call.tag if call.tag else None,
        "sipCallId": sip_call_id(call),
    }


def sip_call_id(call: Call) -> str | None:
    """The SIP Call-ID of the call's dialog with the SBC, once the call has started (else ``None``).

    The official spec: present on any call, inbound or outbound, once the dialog exists; its example
    is the call id without dashes at ``sbc.bandwidth.com``, the form used here.  ``shape`` keeps it
    only on the events that document it (answer, disconnect, initiate).
    """
    if call.start_time is None:
        return None
    return f"{call.call_id.replace('-', '')}@sbc.bandwidth.com"


def call_url(base_url: str, call: Call) -> str:
    """The call's URL as the live platform writes it in webhooks (under ``/api/v2``).

    ``base_url`` is the server's origin (``engine.base_url``); the URL itself is built by the REST
    layer's own function, so a webhook's ``callUrl`` is the REST ``callUrl`` of a client using the
    ``/api/v2`` prefix, character for character.
    """
    return render.call_url(render.api_root(base_url), call)


def media_url(base_url: str, recording: Recording) -> str:
    """The recording's media URL in webhooks (``/api/v2``), built as the REST metadata's."""
    return render.media_url(render.api_root(base_url), recording)


def transcription_url(base_url: str, recording: Recording) -> str:
    """A recording transcription's URL in webhooks (``/api/v2``), built as the REST metadata's."""
    return render.recording_transcription_url(render.api_root(base_url), recording)


def realtime_transcription_url(base_url: str, account_id: str, call_id: str, transcription_id: str) -> str:
    """A real-time transcription's URL in webhooks (``/api/v2``), built as the REST list's."""
    return render.realtime_transcription_url(render.api_root(base_url), account_id, call_id, transcription_id)


def recording_fields(recording: Recording, base_url: str) -> dict[str, Any]:
    """Fields of the recording events (recordComplete, recordingAvailable, transcriptionAvailable)."""
    return {
        "recordingId": recording.recording_id,
        "mediaUrl": media_url(base_url, recording) if recording.media is not None else None,
        "startTime": iso(recording.start_time),
        "endTime": iso(recording.end_time),
        "duration": iso_duration(recording.duration_seconds),
        "fileFormat": recording.file_format,
        "channels": recording.channels,
        "status": recording.status,
        "transferCallerId": recording.transfer_caller_id,
        "transferTo": recording.transfer_to,
    }


__all__ = [
    "call_fields",
    "call_url",
    "iso",
    "iso_duration",
    "media_url",
    "realtime_transcription_url",
    "recording_fields",
    "shape",
    "sip_call_id",
    "transcription_url",
]
