"""``<Refer>``, media streams and real-time transcriptions.

Streams and transcriptions are announced with their webhooks (started / rejected / stopped, and
available for transcriptions); no websocket is opened.  A real-time transcription's transcript is
what was said on its tracks (``inbound``: the party, ``outbound``: what the platform played), and
it is stored so the REST endpoints can serve it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.simulator.engine import payloads
from conformance.simulator.engine.delivery import Target, method_of, resolve
from conformance.simulator.engine.documents import Document, Verb
from conformance.simulator.models import RealTimeTranscription

if TYPE_CHECKING:
    from conformance.simulator.engine.leg import Leg

MAX_TRACK_STREAMS = 4


def _tracks(verb: Verb) -> list[str]:
    value = (verb.get("tracks") or "inbound").lower()
    return ["inbound", "outbound"] if value == "both" else [value]


def _event_target(verb: Verb, base: str | None, url_attr: str, method_attr: str) -> Target | None:
    url = resolve(base, verb.get(url_attr))
    if url is None:
        return None
    return Target(url, method_of(verb.get(method_attr)), verb.get("username"), verb.get("password"))


def _used_tracks(items: dict[str, dict[str, Any]]) -> int:
    return sum(len(item["info"]["tracks"]) for item in items.values())


def _admit(
    leg: Leg,
    running: dict[str, dict[str, Any]],
    info: dict[str, Any],
    target: Target | None,
    *,
    kind: str,
    key: str,
    original_key: str,
    events: tuple[str, str],
) -> None:
    """Start a stream or transcription named ``info["name"]``, or reject it as the docs say: names
    are unique per call and at most four tracks run at once (``both`` counts as two).
    ``events`` is (started, rejected); the payload carries ``info`` under ``key``."""
    name = info["name"]
    started, rejected = events
    problem = None
    if name in running:
        problem = ("duplicate", f"a {kind} named {name!r} is already running on this call")
    elif _used_tracks(running) + len(info["tracks"]) > MAX_TRACK_STREAMS:
        problem = ("track-limit", f"at most {MAX_TRACK_STREAMS} track {kind}s may run on one call")
    if problem is not None:
        original = running.get(name, {}).get("info")
        extra = {key: info, original_key: original, "cause": problem[0], "errorMessage": problem[1]}
        leg.post(rejected, target, **extra)
        return
    running[name] = {"info": info, "target": target, "started": leg.clock.time()}
    leg.post(started, target, **{key: info})


# ------------------------------------------------------------------------------ streams


async def start_stream(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    stream_id = leg.store.new_stream_id()
    name = verb.get("name") or stream_id
    info: dict[str, Any] = {
        "id": stream_id,
        "name": name,
        "destination": verb.get("destination") or "",
        "startTime": payloads.iso(leg.clock.now()),
        "tracks": _tracks(verb),
        "type": "WebSocket",
    }
    target = _event_target(verb, doc.base_url, "streamEventUrl", "streamEventMethod")
    _admit(
        leg,
        leg.streams,
        info,
        target,
        kind="stream",
        key="mediaStream",
        original_key="originalMediaStream",
        events=("mediaStreamStarted", "mediaStreamRejected"),
    )
    return None


def _stop_stream(leg: Leg, name: str, cause: str) -> None:
    item = leg.streams.pop(name, None)
    if item is None:
        return
    info = dict(item["info"])
    info["duration"] = payloads.iso_duration(leg.clock.time() - item["started"])
    leg.post("mediaStreamStopped", item["target"], mediaStream=info, cause=cause)


async def stop_stream(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    _stop_stream(leg, verb.get("name") or "", "closed")
    return None


# ------------------------------------------------------------------------------ transcriptions


async def start_transcription(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    transcription_id = leg.store.new_transcription_id()
    name = verb.get("name") or transcription_id
    info: dict[str, Any] = {
        "id": transcription_id,
        "name": name,
        "startTime": payloads.iso(leg.clock.now()),
        "tracks": _tracks(verb),
    }
    destination = verb.get("destination")
    if destination:
        info["destination"] = destination
        info["stabilized"] = verb.flag("stabilized", True)
    target = _event_target(verb, doc.base_url, "transcriptionEventUrl", "transcriptionEventMethod")
    _admit(
        leg,
        leg.live_transcriptions,
        info,
        target,
        kind="transcription",
        key="realTimeTranscription",
        original_key="originalTranscription",
        events=("realTimeTranscriptionStarted", "realTimeTranscriptionRejected"),
    )
    return None


def _transcript(leg: Leg, track: str, since: float) -> str:
    sounds = leg.heard if track == "inbound" else leg.played
    return " ".join(s.data for s in sounds if s.kind == "speech" and s.start >= since)


def _stop_transcription(leg: Leg, name: str, cause: str) -> None:
    item = leg.live_transcriptions.pop(name, None)
    if item is None:
        return
    info = dict(item["info"])
    started: float = item["started"]
    info["duration"] = payloads.iso_duration(leg.clock.time() - started)
    leg.post("realTimeTranscriptionStopped", item["target"], realTimeTranscription=info, cause=cause)
    tracks = [
        {
            "detectedLanguage": "en-US",
            "track": track,
            "transcript": _transcript(leg, track, started),
            "confidence": 0.9,
        }
        for track in info["tracks"]
    ]
    leg.store.add_realtime_transcription(
        RealTimeTranscription(
            account_id=leg.call.account_id,
            call_id=leg.id,
            transcription_id=info["id"],
            name=info["name"],
            tracks=tracks,
        )
    )
    base = leg.engine.base_url.rstrip("/")
    available = dict(info)
    available.pop("duration", None)
    available.update(
        status="available",
        url=f"{base}/accounts/{leg.call.account_id}/calls/{leg.id}/transcriptions/{info['id']}",
        completedTime=payloads.iso(leg.clock.now()),
    )
    leg.post("realTimeTranscriptionAvailable", item["target"], realTimeTranscription=available)


async def stop_transcription(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    name = verb.get("name")
    for running in [name] if name else list(leg.live_transcriptions):
        _stop_transcription(leg, running, "closed")
    return None


def stop_all_streams(leg: Leg) -> None:
    """At the end of a call every stream and transcription stops."""
    for name in list(leg.streams):
        _stop_stream(leg, name, "closed")
    for name in list(leg.live_transcriptions):
        _stop_transcription(leg, name, "closed")


# ------------------------------------------------------------------------------ refer


async def refer_verb(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    """``<Refer>``: the party accepts the REFER and reports success; the call then leaves us.

    With a ``referCompleteUrl`` the outcome is sent there and its BXML runs; otherwise the call
    ends (it was handed to the referred destination).
    """
    target = _event_target(verb, doc.base_url, "referCompleteUrl", "referCompleteMethod")
    await leg.clock.sleep(0.2)
    if target is None:
        leg.hangup("hangup")
        return None
    return await leg.fetch(
        "referComplete",
        target,
        "call",
        referCallStatus="success",
        referSipResponseCode=202,
        notifySipResponseCode=200,
    )


__all__ = [
    "refer_verb",
    "start_stream",
    "start_transcription",
    "stop_all_streams",
    "stop_stream",
    "stop_transcription",
]
