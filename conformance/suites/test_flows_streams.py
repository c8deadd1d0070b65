"""Media streams over websockets (marker ``flows``): ``<StartStream>`` and ``<StartTranscription
destination>`` on loopback calls, with the stream sink (:mod:`conformance.streams.sink`) as the app's
websocket.  Each flow checks the wire protocol (``start`` first with its fields and parameters,
steady base64 PCMU frames of the announced tracks, ``stop`` last), the audio itself (the other
leg's DTMF is heard, a bidirectional echo is heard back), and the stream webhooks against the
socket's life.

The sink listens on 127.0.0.1: these flows run where the target is on this machine (the embedded
simulator, ``serve``) and skip elsewhere, saying so.
"""

from __future__ import annotations

import array
import io
import wave
from collections.abc import Sequence

import pytest

from conformance.streams import audio
from conformance.streams.sink import StreamScope, StreamSession, StreamSink, check_stream_webhooks
from conformance.suites.flowkit import HOLD, call_flow, simulator_only
from conformance.suites.loopback import Loopback
from conformance.webhooks import Webhook, any_order, same

pytestmark = pytest.mark.flows

#: The callee: after 0.3 s, a 300 ms DTMF 5, then it holds.
_SAYS_5 = (
    '<Response><Pause duration="0.3"/><SendDtmf toneDuration="300">5</SendDtmf>'
    '<Pause duration="30"/></Response>'
)
_STREAM_EVENTS = ("mediaStreamStarted", "mediaStreamStopped", "mediaStreamRejected")


@pytest.fixture
def streams(bw_loopback: Loopback, bw_stream_sink: StreamSink, request: pytest.FixtureRequest) -> StreamScope:
    """This test's scope on the stream sink, when the target can reach it."""
    if not bw_loopback.target.is_local and bw_stream_sink.public_base_url is None:
        pytest.skip(
            "media-stream flows need a websocket the target can reach; the stream sink listens on "
            f"127.0.0.1 and {bw_loopback.target.base_url} is not on this machine (set "
            "BW_STREAM_BASE_URL to a ws(s):// tunnel to it)"
        )
    simulator_only(bw_loopback)
    return bw_stream_sink.scope(request.node.name)


def _stream_hooks(loop: Loopback, name: str | None = None) -> list[Webhook]:
    hooks = [w for w in loop.received() if w.event_type in _STREAM_EVENTS]
    if name is None:
        return hooks
    return [w for w in hooks if ((w.payload or {}).get("mediaStream") or {}).get("name") == name]


def _check_stream(
    loop: Loopback,
    streams: StreamScope,
    flow: str,
    session: StreamSession,
    *,
    name: str,
    tracks: Sequence[str],
    params: dict[str, str] | None = None,
) -> None:
    problems = session.problems(params if params is not None else {})
    loop.require(
        not problems,
        flow,
        "the stream follows the protocol: start, steady PCMU media of its tracks, stop",
        expected="no protocol problem",
        received=[str(p) for p in problems],
    )
    loop.require(
        session.tracks == tuple(tracks) and session.metadata.get("streamName") == name,
        flow,
        "start names the stream and its tracks",
        expected={"streamName": name, "tracks": list(tracks)},
        received={"streamName": session.metadata.get("streamName"), "tracks": list(session.tracks)},
    )
    mismatches = check_stream_webhooks(session, _stream_hooks(loop, name))
    loop.require(
        not mismatches,
        flow,
        "the stream webhooks match the socket's life",
        expected="started and stopped once, naming the socket's stream",
        received=mismatches,
    )


def _heard(data: bytes, digit: str) -> float:
    """How clearly ``digit`` sounds somewhere in ``data``: about 0.5 where it does, near 0 elsewhere."""
    return audio.pair_share(data, audio.DTMF_FREQUENCIES[digit])


def _stream_call(loop: Loopback, callee: str, caller: str) -> str:
    loop.answer_callee(callee)
    loop.answer_caller(caller)
    return loop.place()


# ------------------------------------------------------------------------------ one stream
def test_stream_one_track_hears_the_other_leg(bw_loopback: Loopback, streams: StreamScope) -> None:
    loop, flow = bw_loopback, "StartStream: one track"
    call_id = _stream_call(
        loop,
        _SAYS_5,
        f'<Response><StartStream name="one" tracks="inbound" destination="{streams.url("one")}" '
        f'streamEventUrl="{loop.url("stream")}"/><Pause duration="1.2"/><StopStream name="one"/>'
        "<Hangup/></Response>",
    )
    loop.expect(
        call_flow(
            flow, ["answer", "mediaStreamStarted", any_order("mediaStreamStopped", "disconnect")], call_id
        )
    )
    (session,) = streams.wait_closed(1)
    _check_stream(loop, streams, flow, session, name="one", tracks=["inbound"])
    loop.require(
        session.metadata.get("callId") == call_id,
        flow,
        "start names the call",
        expected=call_id,
        received=session.metadata.get("callId"),
    )
    five = _heard(session.audio("inbound"), "5")
    loop.require(
        five > 0.3,
        flow,
        "the inbound track carries what the other leg played (its DTMF 5)",
        expected="770 Hz and 1336 Hz each over 30% of the energy of some 50 ms",
        received=f"{five:.0%}",
    )


def test_stream_both_tracks_with_params(bw_loopback: Loopback, streams: StreamScope) -> None:
    loop, flow = bw_loopback, "StartStream: both tracks and stream params"
    params = {"customer": "42", "language": "en-US"}
    children = "".join(f'<StreamParam name="{k}" value="{v}"/>' for k, v in params.items())
    call_id = _stream_call(
        loop,
        _SAYS_5,
        f'<Response><StartStream name="both" tracks="both" destination="{streams.url("both")}" '
        f'streamEventUrl="{loop.url("stream")}">{children}</StartStream>'
        '<Pause duration="0.8"/><SendDtmf toneDuration="300">1</SendDtmf><Pause duration="0.3"/>'
        '<StopStream name="both"/><Hangup/></Response>',
    )
    loop.expect(
        call_flow(flow, ["answer", "mediaStreamStarted", "mediaStreamStopped", "disconnect"], call_id)
    )
    (session,) = streams.wait_closed(1)
    _check_stream(loop, streams, flow, session, name="both", tracks=["inbound", "outbound"], params=params)
    heard, played = session.audio("inbound"), session.audio("outbound")
    loop.require(
        _heard(heard, "5") > 0.3 > _heard(heard, "1") and _heard(played, "1") > 0.3 > _heard(played, "5"),
        flow,
        "inbound carries the other leg's 5 (not the 1), outbound the call's own 1 (not the 5)",
        expected="a digit's pair over 30% of the energy of some 50 ms of its track only",
        received={
            "inbound 5, 1": (_heard(heard, "5"), _heard(heard, "1")),
            "outbound 1, 5": (_heard(played, "1"), _heard(played, "5")),
        },
    )


def test_two_streams_at_once(bw_loopback: Loopback, streams: StreamScope) -> None:
    loop, flow = bw_loopback, "StartStream: two streams at once"
    call_id = _stream_call(
        loop,
        HOLD,
        f'<Response><StartStream name="left" destination="{streams.url("left")}" '
        f'streamEventUrl="{loop.url("stream")}"/>'
        f'<StartStream name="right" tracks="outbound" destination="{streams.url("right")}" '
        f'streamEventUrl="{loop.url("stream")}"/><Pause duration="0.8"/><Hangup/></Response>',
    )
    loop.expect(
        call_flow(
            flow,
            [
                "answer",
                any_order(
                    ["mediaStreamStarted", "mediaStreamStopped"],
                    ["mediaStreamStarted", "mediaStreamStopped"],
                    "disconnect",
                ),
            ],
            call_id,
        )
    )
    sessions = streams.wait_closed(2)
    by_path = {s.rest: s for s in sessions}
    loop.require(
        sorted(by_path) == ["left", "right"] and len(sessions) == 2,
        flow,
        "each stream opens its own socket",
        expected=["left", "right"],
        received=[s.rest for s in sessions],
    )
    _check_stream(loop, streams, flow, by_path["left"], name="left", tracks=["inbound"])
    _check_stream(loop, streams, flow, by_path["right"], name="right", tracks=["outbound"])
    ids = {s.metadata.get("streamId") for s in sessions}
    loop.require(
        len(ids) == 2, flow, "the streams have distinct ids", expected=2, received=sorted(map(str, ids))
    )


def test_rejected_destination(bw_loopback: Loopback, streams: StreamScope) -> None:
    loop, flow = bw_loopback, "StartStream: the destination refuses the handshake"
    streams.refuse(403)
    call_id = _stream_call(
        loop,
        HOLD,
        f'<Response><StartStream name="nope" destination="{streams.url("nope")}" '
        f'streamEventUrl="{loop.url("stream")}"/><Pause duration="0.5"/><Hangup/></Response>',
    )
    received = loop.expect(call_flow(flow, ["answer", "mediaStreamRejected", "disconnect"], call_id))
    rejected = next(w for w in received if w.event_type == "mediaStreamRejected")
    cause = (rejected.payload or {}).get("cause")
    loop.require(
        cause == "connection-error",
        flow,
        "a refused handshake is rejected with cause connection-error",
        expected="connection-error",
        received=cause,
    )
    mismatches = check_stream_webhooks(None, _stream_hooks(loop))
    loop.require(
        not mismatches and not streams.sessions, flow, "no stream ran", expected=[], received=mismatches
    )


def test_stop_stream_by_name(bw_loopback: Loopback, streams: StreamScope) -> None:
    loop, flow = bw_loopback, "StopStream: by name, the other stream goes on"
    call_id = _stream_call(
        loop,
        HOLD,
        f'<Response><StartStream name="short" destination="{streams.url("short")}" '
        f'streamEventUrl="{loop.url("stream")}"/>'
        f'<StartStream name="long" destination="{streams.url("long")}" '
        f'streamEventUrl="{loop.url("stream")}"/>'
        '<Pause duration="0.4"/><StopStream name="short"/><StopStream name="unknown"/>'
        '<Pause duration="0.6"/><Hangup/></Response>',
    )
    loop.expect(
        call_flow(
            flow,
            [
                "answer",
                any_order(
                    ["mediaStreamStarted", "mediaStreamStopped"],
                    ["mediaStreamStarted", "mediaStreamStopped"],
                    "disconnect",
                ),
            ],
            call_id,
        )
    )
    sessions = {s.rest: s for s in streams.wait_closed(2)}
    short, long = sessions["short"], sessions["long"]
    _check_stream(loop, streams, flow, short, name="short", tracks=["inbound"])
    _check_stream(loop, streams, flow, long, name="long", tracks=["inbound"])
    frames = len(short.audio("inbound")) // audio.FRAME_BYTES, len(long.audio("inbound")) // audio.FRAME_BYTES
    loop.require(
        short.closed_at is not None
        and long.closed_at is not None
        and short.closed_at < long.closed_at
        and frames[0] < frames[1],
        flow,
        "the named stream stops first and carries less audio",
        expected="short closed first, with fewer frames",
        received={"frames": frames, "closed": (str(short.closed_at), str(long.closed_at))},
    )


def test_hang_up_during_a_stream(bw_loopback: Loopback, streams: StreamScope) -> None:
    loop, flow = bw_loopback, "StartStream: the other leg hangs up"
    call_id = _stream_call(
        loop,
        '<Response><Pause duration="0.6"/><Hangup/></Response>',
        f'<Response><StartStream name="s" destination="{streams.url("s")}" '
        f'streamEventUrl="{loop.url("stream")}"/><Pause duration="30"/></Response>',
    )
    received = loop.expect(
        call_flow(
            flow, ["answer", "mediaStreamStarted", any_order("mediaStreamStopped", "disconnect")], call_id
        )
    )
    (session,) = streams.wait_closed(1)
    _check_stream(loop, streams, flow, session, name="s", tracks=["inbound"])
    stopped = next(w for w in received if w.event_type == "mediaStreamStopped")
    loop.require(
        session.closed_by == "platform" and (stopped.payload or {}).get("cause") == "closed",
        flow,
        "hanging up ends the stream with stop and a closed socket",
        expected={"closed_by": "platform", "cause": "closed"},
        received={"closed_by": session.closed_by, "cause": (stopped.payload or {}).get("cause")},
    )


# ------------------------------------------------------------------------------ bidirectional
def test_bidirectional_echo_is_heard_by_the_other_leg(bw_loopback: Loopback, streams: StreamScope) -> None:
    loop, flow = bw_loopback, "StartStream bidirectional: the app's audio is played into the call"
    streams.set_echo()
    loop.answer_callee(
        f'<Response><StartRecording multiChannel="true" recordingAvailableUrl="{loop.url("recording")}"/>'
        '<Pause duration="0.3"/><SendDtmf toneDuration="300">9</SendDtmf><Pause duration="0.8"/>'
        "<Hangup/></Response>"
    )
    loop.answer_caller(
        f'<Response><StartStream name="bot" mode="bidirectional" destination="{streams.url("bot")}" '
        f'streamEventUrl="{loop.url("stream")}"/><Pause duration="30"/></Response>'
    )
    call_id = loop.place()
    callee_id = loop.callee_id()
    recording = loop.wait_for("recordingAvailable", call_id=callee_id, timeout=15)
    loop.wait_for("mediaStreamStopped", call_id=call_id)
    (session,) = streams.wait_closed(1)
    _check_stream(loop, streams, flow, session, name="bot", tracks=["inbound"])
    loop.require(
        bool(session.sent), flow, "the sink echoed the stream", expected="playAudio sent", received=0
    )
    recording_id = (recording.payload or {}).get("recordingId")
    response = loop.client.get(f"{loop.target.account_url}/calls/{callee_id}/recordings/{recording_id}/media")
    loop.require(
        response.status_code == 200,
        flow,
        "the recording downloads",
        expected=200,
        received=response.status_code,
    )
    with wave.open(io.BytesIO(response.content)) as wav:
        channels, frames = wav.getnchannels(), wav.readframes(wav.getnframes())
    samples = array.array("h")
    samples.frombytes(frames)
    heard = audio.ulaw_encode(samples[0::channels])  # channel 0: what the recording leg heard
    nine = _heard(heard, "9")
    loop.require(
        nine > 0.3,
        flow,
        "the other leg hears the echo of its own 9 (852 + 1477 Hz) on its recording",
        expected="each tone over 30% of the energy of some 50 ms of the heard channel",
        received=f"{nine:.0%} ({channels} channel(s), call {call_id})",
    )


# ------------------------------------------------------------------------------ transcription
def test_real_time_transcription_over_a_websocket(bw_loopback: Loopback, streams: StreamScope) -> None:
    loop, flow = bw_loopback, "StartTranscription with a websocket destination"
    call_id = _stream_call(
        loop,
        '<Response><Pause duration="0.2"/><SpeakSentence>order number five</SpeakSentence>'
        '<Pause duration="30"/></Response>',
        f'<Response><StartTranscription name="live" destination="{streams.url("rtt")}" '
        f'transcriptionEventUrl="{loop.url("rtt")}">'
        '<CustomParam name="agent" value="7"/></StartTranscription>'
        '<Pause duration="3"/><StopTranscription name="live"/><Hangup/></Response>',
    )
    loop.expect(
        call_flow(
            flow,
            [
                "answer",
                "realTimeTranscriptionStarted",
                any_order(["realTimeTranscriptionStopped", "realTimeTranscriptionAvailable"], "disconnect"),
            ],
            call_id,
            same(
                "realTimeTranscription.id",
                events=["realTimeTranscriptionStarted", "realTimeTranscriptionStopped"],
            ),
        )
    )
    (session,) = streams.wait_closed(1)
    problems = session.problems({"agent": "7"})
    loop.require(
        not problems and session.metadata.get("transcriptionName") == "live",
        flow,
        "the transcription stream follows the protocol: start, transcription, stop",
        expected="no protocol problem, transcriptionName live",
        received=[str(p) for p in problems] or session.metadata,
    )
    transcript = " ".join(session.transcripts()).lower()
    loop.require(
        "order number five" in transcript,
        flow,
        "the transcripts carry what the other leg said",
        expected="order number five",
        received=transcript,
    )
