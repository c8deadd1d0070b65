"""Media streams and real-time transcriptions over real websockets (a local ``websockets`` app).

Streams run the clock at real time, so every call here lasts about a second.
"""

from __future__ import annotations

import array
import asyncio
import base64
import io
import math
import wave

import httpx
import pytest

from conformance import pcmu
from conformance.simulator import Simulator
from conformance.simulator.engine import Engine, engine_factory, streams
from conformance.simulator.engine.streams import FRAME_BYTES

from .conftest import ACCOUNT, AUTH, LOOPBACK, Harness, VoiceApp
from .ws_sink import WebsocketApp, ws_app_fixture  # noqa: F401 (the ws_app fixture)


def _energy(pcm: bytes, freq: float) -> float:
    """Goertzel power of ``freq`` in 8 kHz 16-bit samples, relative to the signal's power."""
    samples = array.array("h")
    samples.frombytes(pcm)
    coeff = 2 * math.cos(2 * math.pi * freq / 8000)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    total = sum(x * x for x in samples) or 1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (total * len(samples))


def _audio(frames: list[dict[str, object]]) -> bytes:
    return b"".join(base64.b64decode(str(m["payload"])) for m in frames)


def _seconds(iso: str) -> float:
    return float(iso.removeprefix("PT").removesuffix("S"))


def test_a_stream_sends_start_media_and_stop_with_the_calls_audio(
    harness: Harness, ws_app: WebsocketApp
) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate", '<Response><Pause duration="0.3"/><SendDtmf>5</SendDtmf><Pause duration="5"/></Response>'
    )
    harness.app.reply(
        "/answer",
        f'<Response><StartStream name="agent" tracks="both" destination="{ws_app.url("/agent")}" '
        'destinationUsername="app" destinationPassword="secret" streamEventUrl="/stream">'
        '<StreamParam name="customer" value="42"/><StreamParam name="lang" value="en"/></StartStream>'
        '<Pause duration="0.6"/><SendDtmf toneDuration="200">1</SendDtmf><Pause duration="0.2"/>'
        '<StopStream name="agent"/><Hangup/></Response>',
    )
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    stopped = harness.app.wait_event("mediaStreamStopped")[0].body
    assert [h.event for h in harness.app.events("/stream")] == ["mediaStreamStarted", "mediaStreamStopped"]
    assert stopped["cause"] == "closed"
    ws_app.wait(lambda: bool(ws_app.on("/agent")) and ws_app.on("/agent")[0].closed)
    conn = ws_app.on("/agent")[0]
    assert conn.headers["Authorization"] == "Basic " + base64.b64encode(b"app:secret").decode()
    events = conn.events()
    assert events[0] == "start"
    assert events[-1] == "stop"
    assert set(events[1:-1]) == {"media"}
    start = conn.messages[0]
    assert start["metadata"] == {
        "accountId": ACCOUNT,
        "callId": call_id,
        "streamId": stopped["mediaStream"]["id"],
        "streamName": "agent",
        "tracks": [
            {"name": t, "mediaFormat": {"encoding": "audio/PCMU", "sampleRate": 8000}}
            for t in ("inbound", "outbound")
        ],
    }
    assert start["streamParams"] == {"customer": "42", "lang": "en"}
    assert conn.messages[-1]["metadata"] == start["metadata"]
    inbound, outbound = conn.media("inbound"), conn.media("outbound")
    assert len(inbound) == len(outbound)
    # One 20 ms frame per track for every 20 ms the stream ran (its duration is virtual time).
    assert abs(len(inbound) - _seconds(stopped["mediaStream"]["duration"]) / 0.02) <= 2
    assert all(len(base64.b64decode(m["payload"])) == FRAME_BYTES for m in inbound + outbound)
    heard, played = pcmu.decode(_audio(inbound)), pcmu.decode(_audio(outbound))
    # The other leg's "5" (770 + 1336 Hz) is heard; our own "1" (697 + 1209 Hz) is played.
    assert _energy(heard, 1336) > 10 * _energy(heard, 1209)
    assert _energy(played, 1209) > 10 * _energy(played, 1336)
    silent = base64.b64encode(bytes([pcmu.SILENCE]) * FRAME_BYTES).decode()
    assert inbound[0]["payload"] == silent  # nothing is said in the first 300 ms


def test_refused_rejected_and_forbidden_destinations_are_rejected(
    harness: Harness, ws_app: WebsocketApp
) -> None:
    ws_app.behaviour["/no"] = "reject"
    closed = WebsocketApp()
    refused = closed.url("/x")
    closed.close()
    harness.app.reply(
        "/answer",
        f'<Response><StartStream name="a" destination="{refused}" streamEventUrl="/stream"/>'
        f'<StartStream name="b" destination="{ws_app.url("/no")}" streamEventUrl="/stream"/>'
        '<StartStream name="c" destination="wss://stream.example.net/x" streamEventUrl="/stream"/>'
        '<Pause duration="0.2"/><Hangup/></Response>',
    )
    harness.wait_ended(harness.create_call())
    harness.app.wait_event("mediaStreamRejected", count=3)
    hooks = harness.app.events("/stream")
    assert [h.event for h in hooks] == ["mediaStreamRejected"] * 3
    assert [h.body["cause"] for h in hooks] == ["connection-error"] * 3
    assert "403" in hooks[1].body["errorMessage"]
    assert "loopback" in hooks[2].body["errorMessage"]


def test_stop_stream_by_name_and_the_app_closing(harness: Harness, ws_app: WebsocketApp) -> None:
    ws_app.behaviour["/c"] = "close"
    ws_app.close_after["/c"] = 5
    harness.app.reply(
        "/answer",
        f'<Response><StartStream name="a" destination="{ws_app.url("/a")}" streamEventUrl="/stream"/>'
        f'<StartStream name="b" destination="{ws_app.url("/b")}" streamEventUrl="/stream"/>'
        f'<StartStream name="c" destination="{ws_app.url("/c")}" streamEventUrl="/stream"/>'
        '<Pause duration="0.4"/><StopStream name="a"/><StopStream name="nope"/><Pause duration="0.4"/>'
        "<Hangup/></Response>",
    )
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    stops = harness.app.wait_event("mediaStreamStopped", count=3)
    by_name = {h.body["mediaStream"]["name"]: h.body for h in stops}
    assert [h.body["mediaStream"]["name"] for h in stops][:2] == ["c", "a"]  # c closed after 5 messages
    assert by_name["c"]["cause"] == "closed"
    assert "app closed" in by_name["c"]["errorMessage"]
    assert _seconds(by_name["a"]["mediaStream"]["duration"]) < _seconds(
        by_name["b"]["mediaStream"]["duration"]
    )
    ws_app.wait(lambda: len(ws_app.connections) == 3 and all(c.closed for c in ws_app.connections))
    a, b, c = ws_app.on("/a")[0], ws_app.on("/b")[0], ws_app.on("/c")[0]
    assert a.events()[-1] == "stop"
    assert b.events()[-1] == "stop"
    assert len(a.media("inbound")) < len(b.media("inbound"))
    assert "stop" not in c.events()
    assert len(c.messages) == 5


def test_hang_up_during_a_stream_stops_it(harness: Harness, ws_app: WebsocketApp) -> None:
    harness.route_loopback()
    harness.app.reply("/initiate", '<Response><Pause duration="0.5"/><Hangup/></Response>')
    harness.app.reply(
        "/answer",
        f'<Response><StartStream name="s" destination="{ws_app.url("/s")}" streamEventUrl="/stream"/>'
        '<Pause duration="30"/></Response>',
    )
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    stopped = harness.app.wait_event("mediaStreamStopped")[0].body
    assert stopped["cause"] == "closed"
    assert _seconds(stopped["mediaStream"]["duration"]) < 5
    ws_app.wait(lambda: bool(ws_app.on("/s")) and ws_app.on("/s")[0].closed)
    assert ws_app.on("/s")[0].events()[-1] == "stop"
    assert harness.clock.virtual  # the clock leaps again once no stream is open


def test_bidirectional_audio_is_heard_by_the_other_leg(harness: Harness, ws_app: WebsocketApp) -> None:
    ws_app.behaviour["/echo"] = "echo"
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><StartRecording multiChannel="true" recordingAvailableUrl="/available"/>'
        '<StartGather dtmfUrl="/dtmf"/>'
        '<Pause duration="0.2"/><SendDtmf toneDuration="300">9</SendDtmf><Pause duration="0.6"/>'
        "<Hangup/></Response>",
    )
    harness.app.reply(
        "/answer",
        f'<Response><StartStream name="bot" mode="bidirectional" destination="{ws_app.url("/echo")}"/>'
        '<Pause duration="5"/></Response>',
    )
    harness.wait_ended(harness.create_call(to=LOOPBACK))
    available = harness.app.wait_event("recordingAvailable")[0].body
    media = harness.http.get(available["mediaUrl"].replace(harness.sim.base_url, ""))
    with wave.open(io.BytesIO(media.content)) as wav:
        frames = wav.readframes(wav.getnframes())
    samples = array.array("h")
    samples.frombytes(frames)
    party = samples[0::2].tobytes()  # what the recording leg heard: our echo of its own "9"
    assert _energy(party, 1477) > 10 * _energy(party, 1209)  # "9" is 852 + 1477 Hz
    # The leg's DTMF gather hears the key its own tone pressed, coming back through the agent.
    assert [h.body["digit"] for h in harness.app.events("/dtmf")] == ["9"]


def test_an_agent_sending_garbage_is_ignored_and_its_valid_audio_played(
    harness: Harness, ws_app: WebsocketApp
) -> None:
    ws_app.behaviour["/bad"] = "garbage"
    harness.app.reply(
        "/answer",
        '<Response><StartRecording multiChannel="true" recordingAvailableUrl="/available"/>'
        f'<StartStream name="bot" mode="bidirectional" destination="{ws_app.url("/bad")}" '
        'streamEventUrl="/stream"/><Pause duration="1"/><StopStream name="bot"/><Hangup/></Response>',
    )
    harness.wait_ended(harness.create_call())
    stopped = harness.app.wait_event("mediaStreamStopped")[0].body
    assert stopped["cause"] == "closed"  # the garbage did not end the stream
    ws_app.wait(lambda: bool(ws_app.on("/bad")) and ws_app.on("/bad")[0].closed)
    assert ws_app.on("/bad")[0].events()[-1] == "stop"
    available = harness.app.wait_event("recordingAvailable")[0].body
    media = harness.http.get(available["mediaUrl"].replace(harness.sim.base_url, ""))
    with wave.open(io.BytesIO(media.content)) as wav:
        samples = array.array("h")
        samples.frombytes(wav.readframes(wav.getnframes()))
    # Only the last message was valid: base64 "AAAA..." is PCMU 0x00, the sample -32124, and
    # 300,000 bytes of it (37.5 s) were queued; the call played it from the playout buffer's 0.2 s
    # on, for as long as the stream ran (at least 0.3 s of the pause's 1 s, however busy the machine).
    played = samples[1::2]
    assert played.count(-32124) >= 0.3 * 8000
    assert samples[0::2].count(-32124) == 0  # played to the party, not heard from it


def test_transcription_over_a_websocket(harness: Harness, ws_app: WebsocketApp) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><Pause duration="0.2"/><SpeakSentence>order number five</SpeakSentence>'
        '<Pause duration="5"/></Response>',
    )
    harness.app.reply(
        "/answer",
        f'<Response><StartTranscription name="live" destination="{ws_app.url("/rtt")}" '
        'transcriptionEventUrl="/rtt">'
        '<CustomParam name="agent" value="7"/></StartTranscription>'
        '<Pause duration="3"/><StopTranscription name="live"/><Hangup/></Response>',
    )
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    harness.app.wait_event("realTimeTranscriptionAvailable")
    assert [h.event for h in harness.app.events("/rtt")] == [
        "realTimeTranscriptionStarted",
        "realTimeTranscriptionStopped",
        "realTimeTranscriptionAvailable",
    ]
    ws_app.wait(lambda: bool(ws_app.on("/rtt")) and ws_app.on("/rtt")[0].closed)
    conn = ws_app.on("/rtt")[0]
    assert conn.events() == ["start", "transcription", "stop"]
    start, result, _ = conn.messages
    assert start["metadata"]["callId"] == call_id
    assert start["metadata"]["transcriptionName"] == "live"
    assert start["metadata"]["tracks"] == ["inbound"]
    assert start["customParams"] == {"agent": "7"}
    assert result["transcript"] == "order number five"
    assert result["track"] == "inbound"
    assert [i["content"] for i in result["items"]] == ["order", "number", "five"]
    assert result["isPartial"] is False
    assert 0 < result["startTime"] < result["endTime"]


def test_a_stuck_websocket_does_not_hold_another_call(
    harness: Harness, ws_app: WebsocketApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app on /stuck reads nothing.  Filling the OS buffers of a loopback connection takes
    # minutes of audio, so the socket's writer is made to block as it would on a full buffer.
    ws_app.behaviour["/stuck"] = "stuck"
    writing = streams.Socket._write

    async def blocked_when_stuck(self: streams.Socket) -> None:
        if self.ws.request is not None and self.ws.request.path == "/stuck":
            await asyncio.Event().wait()  # a drain that never returns
        await writing(self)

    monkeypatch.setattr(streams.Socket, "_write", blocked_when_stuck)
    monkeypatch.setattr(streams, "MAX_BACKLOG", 20)
    monkeypatch.setattr(streams, "STALL_SECONDS", 0.3)
    harness.app.reply(
        "/stuck-call",
        f'<Response><StartStream name="s" destination="{ws_app.url("/stuck")}" streamEventUrl="/stuck"/>'
        '<Pause duration="2"/></Response>',
    )
    harness.app.reply(
        "/answer",
        f'<Response><StartStream name="s" destination="{ws_app.url("/fine")}" streamEventUrl="/stream"/>'
        '<Pause duration="1"/></Response>',
    )
    stuck = harness.create_call(answer="/stuck-call")
    ws_app.wait(lambda: bool(ws_app.on("/stuck")))
    fine = harness.create_call()
    harness.wait_ended(fine)
    ws_app.wait(lambda: bool(ws_app.on("/fine")) and ws_app.on("/fine")[0].closed)
    conn = ws_app.on("/fine")[0]
    assert conn.events()[0] == "start"
    assert conn.events()[-1] == "stop"
    assert len(conn.media("inbound")) >= 45  # the whole second, though the other app reads nothing
    harness.app.wait_event("mediaStreamStopped", callId=fine)
    stopped = [h.body for h in harness.app.events("/stuck") if h.event == "mediaStreamStopped"]
    assert len(stopped) == 1
    assert stopped[0]["cause"] == "error"
    assert "read nothing for 0.3 s while 20 messages waited" in stopped[0]["errorMessage"]
    harness.wait_ended(stuck)
    ws_app.wait(lambda: ws_app.on("/stuck")[0].closed)  # the stuck socket was dropped


@pytest.mark.parametrize("sample", [0, 1, -1, 100, -100, 8159, -8159, 32767, -32768, 1234, -4321])
def test_pcmu_round_trip_is_within_one_quantisation_step(sample: int) -> None:
    byte = pcmu.encode_sample(sample)
    back = pcmu.decode_sample(byte)
    step = 2 ** (((~byte >> 4) & 7) + 3)
    assert abs(back - max(-32635, min(32635, sample))) <= step
    pcm = array.array("h", [sample] * 3).tobytes()
    assert pcmu.decode(pcmu.encode(pcm)) == array.array("h", [back] * 3).tobytes()


def test_pcmu_matches_the_g711_reference_points() -> None:
    assert pcmu.encode_sample(0) == 0xFF
    assert pcmu.encode_sample(32767) == 0x80
    assert pcmu.encode_sample(-32768) == 0x00
    assert pcmu.decode_sample(0xFF) == 0
    assert pcmu.decode_sample(0x80) == 32124
    assert pcmu.decode_sample(0x00) == -32124


def test_a_simulator_closed_mid_stream_leaves_no_socket_open(app: VoiceApp, ws_app: WebsocketApp) -> None:
    app.reply(
        "/answer",
        f'<Response><StartStream name="s" destination="{ws_app.url("/s")}"/>'
        '<Pause duration="30"/></Response>',
    )
    with Simulator(engine_factory=engine_factory) as sim:
        engine = sim.runtime.engine
        assert isinstance(engine, Engine)
        engine.base_url = sim.base_url
        with httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=10) as http:
            Harness(sim, app, http).create_call()
            ws_app.wait(lambda: bool(ws_app.on("/s")) and len(ws_app.on("/s")[0].messages) > 5)
    ws_app.wait(lambda: ws_app.on("/s")[0].closed)  # the app sees the connection go
    assert not engine.errors
