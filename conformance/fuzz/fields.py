"""Which realistic generator fills which field: by field name, by JSON Schema ``format``, and the
sample values that tell whether a contract's leaf schema accepts a generator at all."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import strategies as st

from conformance.fuzz.values import (
    DISCONNECT_CAUSES,
    DTMF_DIGITS,
    account_ids,
    call_ids,
    caller_ids,
    conference_ids,
    conference_names,
    destinations,
    dtmf_digits,
    free_text,
    gather_digits,
    iso_durations,
    media_urls,
    recording_ids,
    recording_transcription_ids,
    sip_call_ids,
    sip_header_maps,
    stream_ids,
    tags,
    terminating_digits,
    timestamps,
    transcription_ids,
    urls,
    uuids,
)

_SIP_RESPONSE_CODES = (200, 404, 408, 480, 486, 487, 500, 503, 603)
_STREAM_DESTINATIONS = ("wss://media.example.com/stream", "wss://10.0.0.5:8443/audio")


@cache
def disconnect_causes() -> st.SearchStrategy[str]:
    return st.sampled_from(DISCONNECT_CAUSES)


@cache
def sip_response_codes() -> st.SearchStrategy[int]:
    return st.sampled_from(_SIP_RESPONSE_CODES)


@cache
def channel_counts() -> st.SearchStrategy[int]:
    return st.sampled_from((1, 2))


@cache
def websocket_types() -> st.SearchStrategy[str]:
    return st.just("WebSocket")


@cache
def stream_destinations() -> st.SearchStrategy[str]:
    return st.sampled_from(_STREAM_DESTINATIONS)


# Field name -> realistic generator.  Used for string (and a few integer) leaves without an enum.
FIELD_VALUES: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "from": caller_ids,
    "to": destinations,
    "transferTo": destinations,
    "transferCallerId": caller_ids,
    "callId": call_ids,
    "parentCallId": call_ids,
    "conferenceId": conference_ids,
    "recordingId": recording_ids,
    "transcriptionId": transcription_ids,
    "streamId": stream_ids,
    "accountId": account_ids,
    "applicationId": uuids,
    "errorId": uuids,
    "sipCallId": sip_call_ids,
    "digits": gather_digits,
    "terminatingDigit": terminating_digits,
    "digit": dtmf_digits,
    "tag": tags,
    "duration": iso_durations,
    "cause": disconnect_causes,
    "errorMessage": free_text,
    "name": conference_names,
    "text": free_text,
    "callUrl": urls,
    "mediaUrl": media_urls,
    "sipResponseCode": sip_response_codes,
    "channels": channel_counts,
    "sipHeaders": sip_header_maps,
    "mediaStream.id": stream_ids,
    "originalMediaStream.id": stream_ids,
    "realTimeTranscription.id": transcription_ids,
    "originalTranscription.id": transcription_ids,
    "transcription.id": recording_transcription_ids,
    "mediaStream.name": free_text,
    "originalMediaStream.name": free_text,
    "realTimeTranscription.name": free_text,
    "originalTranscription.name": free_text,
    "mediaStream.type": websocket_types,
    "originalMediaStream.type": websocket_types,
    "destination": stream_destinations,
}

# Representative values of each realistic generator.  A leaf schema that accepts none of them (a
# contract stricter than the guess) gets the generic schema-driven generator instead, and one that
# accepts only a few gets those few mixed with it, so a guess never has to be filtered to death.
SAMPLES: dict[Callable[[], st.SearchStrategy[Any]], tuple[Any, ...]] = {
    caller_ids: ("+15551230000", "+442071234567", "+4930123456789", "sip:alice@example.com", "Anonymous"),
    destinations: ("+15551230001", "+33123456789", "+819012345678", "sip:+15551230001@192.0.2.55"),
    call_ids: ("c-15ac29a2-1331029c-2cb0-4a07-b215-b22865662d85",),
    conference_ids: ("conf-7e1c29a2-1331029c-2cb0-4a07-b215-b22865662d85",),
    recording_ids: ("r-fbe05094-9fd2afe9-bf5b-4c68-820a-41a01c1c5833",),
    transcription_ids: ("t-fbe05094-9fd2afe9-bf5b-4c68-820a-41a01c1c5833",),
    recording_transcription_ids: ("t-6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",),
    stream_ids: ("s-fbe05094-9fd2afe9-bf5b-4c68-820a-41a01c1c5833",),
    account_ids: ("9900000", "55555555"),
    uuids: ("7fc9698a-b04a-468b-9e8f-91238c0d0086",),
    sip_call_ids: ("3f2a9c0e1b7d@10.0.0.1",),
    gather_digits: ("", "1", "#", "1234#", "0" * 50),
    terminating_digits: ("", "#", "*"),
    dtmf_digits: tuple(DTMF_DIGITS),
    tags: ("", "campaign-42", "a&b", "x" * 256, "日本語のタグ"),
    iso_durations: ("PT0.2S", "PT13.67S", "PT1H2M3.5S"),
    free_text: ("", "Busy here", "a&b", "é"),
    conference_names: ("room", "team_42", "x" * 100),
    urls: (
        "https://voice.bandwidth.com/api/v2/accounts/9900000/calls/c-15ac29a2-1331029c-2cb0-4a07-b215-b22865662d85",
    ),
    media_urls: (
        "https://voice.bandwidth.com/api/v2/accounts/9900000/calls/c-15ac29a2-1331029c-2cb0-4a07-b215-b22865662d85"
        "/recordings/r-fbe05094-9fd2afe9-bf5b-4c68-820a-41a01c1c5833/media",
    ),
}

# Generators whose every value is listed, in the order they are drawn: a leaf schema is checked on
# the list once, when the strategy is built, instead of on every value drawn.
EXACT: dict[Callable[[], st.SearchStrategy[Any]], tuple[Any, ...]] = {
    disconnect_causes: DISCONNECT_CAUSES,
    sip_response_codes: _SIP_RESPONSE_CODES,
    channel_counts: (1, 2),
    websocket_types: ("WebSocket",),
    stream_destinations: _STREAM_DESTINATIONS,
    dtmf_digits: tuple(DTMF_DIGITS),
}

# The JSON type of every value of a generator (the others are filtered by type where used).
KINDS: dict[Callable[[], st.SearchStrategy[Any]], str] = {
    **{factory: "string" for factory in SAMPLES},
    **{factory: "string" for factory in (disconnect_causes, websocket_types, stream_destinations)},
    sip_response_codes: "integer",
    channel_counts: "integer",
    sip_header_maps: "object",
}

# JSON Schema formats every value of a generator satisfies by construction (tests/fuzz/test_values.py
# checks them with jsonschema's own format checker): a leaf constrained only by such a format needs
# no check per value.
FORMATS: dict[Callable[[], st.SearchStrategy[Any]], frozenset[str]] = {
    timestamps: frozenset({"date-time"}),
    urls: frozenset({"uri", "url"}),
    media_urls: frozenset({"uri", "url"}),
    uuids: frozenset({"uuid"}),
    iso_durations: frozenset({"duration"}),
    stream_destinations: frozenset({"uri", "url"}),
}


# JSON Schema ``format`` -> generator, for strings the name table does not cover.
FORMAT_VALUES: dict[str, Callable[[], st.SearchStrategy[str]]] = {
    "date-time": timestamps,
    "uri": urls,
    "url": urls,
    "uuid": uuids,
    "duration": iso_durations,
}

__all__ = ["EXACT", "FIELD_VALUES", "FORMATS", "FORMAT_VALUES", "KINDS", "SAMPLES"]
