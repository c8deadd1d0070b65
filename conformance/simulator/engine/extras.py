"""``<Refer>``, media streams and real-time transcriptions.

A stream opens a real websocket to its ``destination`` (see :mod:`.streams`): the verb waits for
the handshake, then ``mediaStreamStarted`` (or ``mediaStreamRejected``, cause
``connection-error``) follows what really happened, and ``mediaStreamStopped`` follows the
socket's end (``<StopStream>``, the call's end, the app closing it, the app not reading).  A
real-time transcription with a ``destination`` does the same with its websocket.  A real-time
transcription's transcript is what was said on its tracks (``inbound``: the party, ``outbound``:
what the platform played), and it is stored so the REST endpoints can serve it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.simulator.engine import payloads
from conformance.simulator.engine.delivery import Target, method_of, resolve
from conformance.simulator.engine.documents import Document, Verb
from conformance.simulator.engine.streams import MediaStream, StreamFailed, TranscriptionFeed
from conformance.simulator.models import RealTimeTranscription

if TYPE_CHECKING:
    from conformance.simulator.engine.leg import Leg

MAX_TRACK_STREAMS = 4


def _tracks(verb: Verb) -> list[str]:
    value = (verb.get("tracks") or "inbound").lower()
    return ["inbound", "outbound"] if value == "both" else [value]


def _params(verb: Verb, child: str) -> dict[str, str]:
    """``<StreamParam>`` / ``<CustomParam>`` children as a name-to-value object."""
    return {
        c.get("name") or "": c.get("value") or "" for c in verb.children if c.name == child and c.get("name")
    }


def _event_target(verb: Verb, base: str | None, url_attr: str, method_attr: str) -> Target | None:
    url = resolve(base, verb.get(url_attr))
    if url is None:
        return None
    return Target(url, method_of(verb.get(method_attr)), verb.get("username"), verb.get("password"))


def _used_tracks(items: dict[str, dict[str, Any]]) -> int:
    return sum(len(item["info"]["tracks"]) for item in items.values())


def _problem(running: dict[str, dict[str, Any]], info: dict[str, Any], kind: str) -> tuple[str, str] | None:
    """Why a stream or transcription may not start: names are unique per call and at most four
    tracks run at once (``both`` counts as two)."""
    name = info["name"]
    if name in running:
        return ("duplicate", f"a {kind} named {name!r} is already running on this call")
    if _used_tracks(running) + len(info["tracks"]) > MAX_TRACK_STREAMS:
        return ("track-limit", f"at most {MAX_TRACK_STREAMS} track {kind}s may run on one call")
    return None


async def _admit(
    leg: Leg,
    running: dict[str, dict[str, Any]],
    info: dict[str, Any],
    target: Target | None,
    feed: MediaStream | TranscriptionFeed | None,
    verb: Verb,
    *,
    kind: str,
    key: str,
    original_key: str,
    events: tuple[str, str],
) -> None:
    """Start a stream or transcription named ``info["name"]`` (opening ``feed``'s websocket), or
    reject it.  ``events`` is (started, rejected); the payload carries ``info`` under ``key``."""
    started, rejected = events
    problem = _problem(running, info, kind)
    if problem is None and feed is not None:
        try:
            await feed.open(
                info["destination"], verb.get("destinationUsername"), verb.get("destinationPassword")
            )
        except StreamFailed as failure:
            problem = (failure.cause, failure.message)
        else:
            if leg.done:  # the call ended while the socket opened: it closes at once, unannounced
                feed.on_end = None
                feed.stop("closed")
                return
            problem = _problem(running, info, kind)  # another verb may have run meanwhile
            if problem is not None:
                feed.on_end = None
                feed.fail("error", problem[1])
    if problem is not None:
        original = running.get(info["name"], {}).get("info")
        extra = {key: info, original_key: original, "cause": problem[0], "errorMessage": problem[1]}
        leg.post(rejected, target, **extra)
        return
    running[info["name"]] = {"info": info, "target": target, "started": leg.clock.time(), "feed": feed}
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
    mode = (verb.get("mode") or "unidirectional").lower()
    stream = MediaStream(leg, info, _params(verb, "StreamParam"), mode == "bidirectional")
    stream.on_end = lambda s, cause, message: _stop_stream(leg, s.info["name"], cause, message)
    await _admit(
        leg,
        leg.streams,
        info,
        target,
        stream,
        verb,
        kind="stream",
        key="mediaStream",
        original_key="originalMediaStream",
        events=("mediaStreamStarted", "mediaStreamRejected"),
    )
    return None


def _stop_stream(leg: Leg, name: str, cause: str, message: str | None = None) -> None:
    item = leg.streams.pop(name, None)
    if item is None:
        return
    feed = item.get("feed")
    if feed is not None:
        feed.stop(cause, message)  # sends `stop` and closes (its on_end finds nothing left to pop)
    info = dict(item["info"])
    info["duration"] = payloads.iso_duration(leg.clock.time() - item["started"])
    leg.post("mediaStreamStopped", item["target"], mediaStream=info, cause=cause, errorMessage=message)


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
    feed: TranscriptionFeed | None = None
    destination = verb.get("destination")
    if destination:
        info["destination"] = destination
        info["stabilized"] = verb.flag("stabilized", True)
        feed = TranscriptionFeed(leg, info, _params(verb, "CustomParam"))
        feed.on_end = lambda f, cause, message: _stop_transcription(leg, f.info["name"], cause, message)
    target = _event_target(verb, doc.base_url, "transcriptionEventUrl", "transcriptionEventMethod")
    await _admit(
        leg,
        leg.live_transcriptions,
        info,
        target,
        feed,
        verb,
        kind="transcription",
        key="realTimeTranscription",
        original_key="originalTranscription",
        events=("realTimeTranscriptionStarted", "realTimeTranscriptionRejected"),
    )
    return None


def _transcript(leg: Leg, track: str, since: float) -> str:
    sounds = leg.heard if track == "inbound" else leg.played
    return " ".join(s.data for s in sounds if s.kind == "speech" and s.start >= since)


def _stop_transcription(leg: Leg, name: str, cause: str, message: str | None = None) -> None:
    item = leg.live_transcriptions.pop(name, None)
    if item is None:
        return
    feed = item.get("feed")
    if feed is not None:
        feed.stop(cause, message)
    info = dict(item["info"])
    started: float = item["started"]
    info["duration"] = payloads.iso_duration(leg.clock.time() - started)
    leg.post(
        "realTimeTranscriptionStopped",
        item["target"],
        realTimeTranscription=info,
        cause=cause,
        errorMessage=message,
    )
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
    available = dict(info)
    available.pop("duration", None)
    available.update(
        status="available",
        url=payloads.realtime_transcription_url(leg.engine.base_url, leg.call.account_id, leg.id, info["id"]),
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
