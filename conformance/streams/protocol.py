"""The media-stream wire protocol as data: what each side may send, and the checks of both sides.

Platform to app (``<StartStream>``): ``start`` {eventType, metadata{accountId, callId, streamId,
streamName, tracks[{name, mediaFormat{encoding "audio/PCMU", sampleRate 8000}}]}, streamParams},
then ``media`` {eventType, track, payload (base64 PCMU)}, then ``stop``.  For
``<StartTranscription destination>`` the metadata names a realTimeTranscriptionId and
transcriptionName, the parameters are ``customParams`` and ``transcription`` messages replace media.

App to platform (bidirectional streams): ``{"eventType": "playAudio", "media": {"contentType":
"audio/pcmu", "payload": base64}}`` and ``{"eventType": "clear"}``.

Every check returns :class:`StreamProblem` values instead of raising, so the sink can keep them with
the message and the fuzzer can report them; nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from conformance.streams.audio import SAMPLE_RATE

TRACKS = ("inbound", "outbound")
#: A media frame longer than this many bytes (one second) is not a real-time frame.
MAX_FRAME_BYTES = SAMPLE_RATE
#: What an app may send back at once: 10 s of PCMU as base64, well under websockets' 1 MiB default.
MAX_PLAY_BYTES = 10 * SAMPLE_RATE
StreamKind = Literal["media", "transcription"]


@dataclass(frozen=True)
class StreamProblem:
    """One thing wrong with a stream: ``index`` is the message's position (0-based), None for the whole."""

    reason: str  # machine-readable: not-json, start-not-first, bad-payload, after-stop, ...
    index: int | None
    message: str

    def __str__(self) -> str:
        where = f"message {self.index + 1}: " if self.index is not None else ""
        return where + self.message


def parse(text: str | bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A message as a JSON object, or ``None`` with the reason it is not one."""
    if isinstance(text, bytes):
        return None, "a binary frame (the protocol sends JSON text frames)"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None, "not JSON"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    return value, None


def decode_payload(payload: object) -> bytes | None:
    """The bytes of a base64 ``payload`` string, or ``None`` when it is not strict base64."""
    if not isinstance(payload, str) or not payload:
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _check_tracks(tracks: object, kind: StreamKind) -> list[str]:
    if not isinstance(tracks, list) or not tracks:
        return ["metadata.tracks is not a non-empty list"]
    found: list[str] = []
    names: list[str] = []
    for position, track in enumerate(tracks):
        if kind == "transcription":
            name = track.get("name") if isinstance(track, dict) else track
        elif not isinstance(track, dict):
            found.append(f"metadata.tracks[{position}] is not an object")
            continue
        else:
            name = track.get("name")
            media_format = track.get("mediaFormat")
            expected = {"encoding": "audio/PCMU", "sampleRate": SAMPLE_RATE}
            if not isinstance(media_format, dict) or any(
                media_format.get(key) != value for key, value in expected.items()
            ):
                found.append(f"metadata.tracks[{position}].mediaFormat is {media_format!r}, not {expected}")
        if name not in TRACKS:
            found.append(f"metadata.tracks[{position}] names track {name!r}, not inbound or outbound")
        elif name in names:
            found.append(f"metadata.tracks names {name!r} twice")
        else:
            names.append(str(name))
    return found


def start_tracks(start: Mapping[str, Any]) -> tuple[str, ...]:
    """The track names a ``start`` message announces (an empty tuple when it announces none)."""
    metadata = start.get("metadata")
    tracks = metadata.get("tracks") if isinstance(metadata, dict) else None
    names: list[str] = []
    for track in tracks if isinstance(tracks, list) else ():
        name = track.get("name") if isinstance(track, dict) else track
        if isinstance(name, str):
            names.append(name)
    return tuple(names)


def stream_kind(start: Mapping[str, Any]) -> StreamKind:
    """``transcription`` when the metadata names a real-time transcription, else ``media``."""
    metadata = start.get("metadata")
    if isinstance(metadata, dict) and "realTimeTranscriptionId" in metadata:
        return "transcription"
    return "media"


def check_start(start: Mapping[str, Any], expected_params: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong with a ``start`` message (of either kind); ``expected_params`` as sent in BXML."""
    kind = stream_kind(start)
    found: list[str] = []
    metadata = start.get("metadata")
    if not isinstance(metadata, dict):
        return ["start has no metadata object"]
    required = (
        ("accountId", "callId", "realTimeTranscriptionId", "transcriptionName")
        if kind == "transcription"
        else ("accountId", "callId", "streamId", "streamName")
    )
    found.extend(f"metadata.{key} is missing or empty" for key in required if not _text(metadata.get(key)))
    found.extend(_check_tracks(metadata.get("tracks"), kind))
    params_key = "customParams" if kind == "transcription" else "streamParams"
    params = start.get(params_key, {})
    if params is None:
        params = {}
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        found.append(f"{params_key} is not an object of strings: {params!r}")
    elif expected_params is not None and params != dict(expected_params):
        found.append(f"{params_key} is {params!r}, the document gave {dict(expected_params)!r}")
    return found


def check_platform_stream(
    messages: Sequence[str | bytes],
    *,
    expected_params: Mapping[str, str] | None = None,
    closed_by_platform: bool = True,
) -> list[StreamProblem]:
    """The platform's side of one websocket: ``start`` first, media (or transcriptions) of the announced
    tracks, each frame valid base64 PCMU of a real-time size and, per track, of one steady size
    (the last frame may be shorter), both tracks in step, ``stop`` last and nothing after it.

    ``closed_by_platform`` False (the app closed first) excuses a missing ``stop``.
    """
    problems: list[StreamProblem] = []
    if not messages:
        return [StreamProblem("no-start", None, "the socket carried no message at all")]
    tracks: tuple[str, ...] = ()
    kind: StreamKind = "media"
    sizes: dict[str, list[int]] = {}
    stopped_at: int | None = None
    for index, raw in enumerate(messages):
        message, error = parse(raw)
        if message is None:
            problems.append(StreamProblem("not-json", index, f"{error}: {str(raw)[:80]!r}"))
            continue
        event = message.get("eventType")
        if stopped_at is not None:
            problems.append(StreamProblem("after-stop", index, f"{event!r} after stop"))
            continue
        if index == 0:
            if event != "start":
                problems.append(StreamProblem("start-not-first", 0, f"the first message is {event!r}"))
            else:
                kind = stream_kind(message)
                tracks = start_tracks(message)
                problems.extend(
                    StreamProblem("bad-start", 0, m) for m in check_start(message, expected_params)
                )
                continue
        if event == "start":
            problems.append(StreamProblem("duplicate-start", index, "a second start"))
        elif event == "stop":
            stopped_at = index
        elif event == "media" and kind == "media":
            track = message.get("track")
            data = decode_payload(message.get("payload"))
            if track not in tracks:
                problems.append(StreamProblem("bad-track", index, f"track {track!r} was not announced"))
            elif data is None:
                problems.append(StreamProblem("bad-payload", index, "payload is not non-empty base64"))
            elif len(data) > MAX_FRAME_BYTES:
                problems.append(StreamProblem("frame-size", index, f"a {len(data)}-byte frame (over 1 s)"))
            else:
                sizes.setdefault(str(track), []).append(len(data))
        elif event == "transcription" and kind == "transcription":
            problems.extend(
                StreamProblem("bad-transcription", index, m) for m in check_transcription(message)
            )
        else:
            problems.append(StreamProblem("unknown-event", index, f"eventType {event!r} in a {kind} stream"))
    for track, lengths in sizes.items():
        steady = set(lengths[:-1])
        if len(steady) > 1:
            problems.append(
                StreamProblem(
                    "cadence", None, f"track {track}: frames of {sorted(steady)} bytes, not one size"
                )
            )
    if len(tracks) == 2 and sizes:
        counts = [len(sizes.get(track, [])) for track in tracks]
        if max(counts) - min(counts) > 2:
            problems.append(
                StreamProblem(
                    "tracks-apart", None, f"frames per track {dict(zip(tracks, counts, strict=True))}"
                )
            )
    if stopped_at is None and closed_by_platform:
        problems.append(StreamProblem("no-stop", None, "the platform closed the socket without stop"))
    return problems


def check_transcription(message: Mapping[str, Any]) -> list[str]:
    """What is wrong with one ``transcription`` message."""
    found: list[str] = []
    if message.get("track") not in TRACKS:
        found.append(f"track is {message.get('track')!r}")
    if not isinstance(message.get("transcript"), str):
        found.append("transcript is not a string")
    if not isinstance(message.get("isPartial"), bool):
        found.append("isPartial is not a boolean")
    items = message.get("items", [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        found.append("items is not a list of objects")
    return found


def check_app_message(raw: str | bytes) -> str | None:
    """Why a message an app sent on a bidirectional stream is not a well-formed ``playAudio`` or
    ``clear`` (``None`` when it is)."""
    message, error = parse(raw)
    if message is None:
        return error
    event = message.get("eventType")
    if event == "clear":
        return None
    if event != "playAudio":
        return f"eventType {event!r} is neither playAudio nor clear"
    media = message.get("media")
    if not isinstance(media, dict):
        return "playAudio has no media object"
    content_type = media.get("contentType")
    if not isinstance(content_type, str) or content_type.lower() != "audio/pcmu":
        return f"media.contentType is {content_type!r}, not audio/pcmu"
    data = decode_payload(media.get("payload"))
    if data is None:
        return "media.payload is not non-empty base64"
    if len(data) > MAX_PLAY_BYTES:
        return f"media.payload holds {len(data)} bytes, over {MAX_PLAY_BYTES} (10 s)"
    return None


def play_audio(data: bytes) -> str:
    """A bidirectional ``playAudio`` message carrying PCMU ``data``."""
    payload = base64.b64encode(data).decode("ascii")
    return json.dumps({"eventType": "playAudio", "media": {"contentType": "audio/pcmu", "payload": payload}})


__all__ = [
    "MAX_FRAME_BYTES",
    "MAX_PLAY_BYTES",
    "TRACKS",
    "StreamKind",
    "StreamProblem",
    "check_app_message",
    "check_platform_stream",
    "check_start",
    "check_transcription",
    "decode_payload",
    "parse",
    "play_audio",
    "start_tracks",
    "stream_kind",
]
