"""DTMF detection in the audio an agent plays back (bidirectional streams), and the socket queue."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json

import pytest

from conformance import pcmu
from conformance.simulator.engine import streams
from conformance.simulator.engine.media import Sound, render, speech_seconds
from conformance.simulator.engine.tones import FRAME, DtmfDetector, frame_digit


def _frames(sounds: list[Sound], seconds: float) -> list[bytes]:
    """20 ms frames of the sounds, through PCMU as an agent would send them."""
    pcm = pcmu.decode(pcmu.encode(render([(0.0, seconds)], sounds).tobytes()))
    return [pcm[i : i + 2 * FRAME] for i in range(0, len(pcm), 2 * FRAME)]


@pytest.mark.parametrize("digit", list("0123456789*#ABCD"))
def test_every_key_is_detected_once_per_press(digit: str) -> None:
    detector = DtmfDetector()
    sounds = [Sound(0.0, 0.1, "dtmf", digit), Sound(0.2, 0.1, "dtmf", digit)]
    found = [d for d in map(detector.feed, _frames(sounds, 0.4)) if d is not None]
    assert found == [digit, digit]


def test_voice_audio_and_silence_press_no_key() -> None:
    sounds = [
        Sound(0.0, 1.0, "speech", "order number five"),
        Sound(1.0, 1.0, "audio", "http://127.0.0.1/hold.wav"),
    ]
    assert {frame_digit(f) for f in _frames(sounds, 2.5)} == {None}


def test_a_one_frame_dropout_does_not_split_a_press_but_a_40_ms_pause_does() -> None:
    # A 300 ms tone with one 20 ms frame of silence in it (the app's echo came late once) is one
    # press; the same tone with two silent frames in a row is two presses (Q.24's 40 ms pause).
    tone = _frames([Sound(0.0, 0.3, "dtmf", "9")], 0.3)
    silence = _frames([], 0.04)
    for gap, presses in ((silence[:1], ["9"]), (silence[:2], ["9", "9"])):
        detector = DtmfDetector()
        frames = [*tone[:7], *gap, *tone[7:], *silence]
        assert [d for d in map(detector.feed, frames) if d] == presses


def test_one_key_after_another_without_a_pause_is_two_presses() -> None:
    detector = DtmfDetector()
    frames = _frames([Sound(0.0, 0.1, "dtmf", "1"), Sound(0.1, 0.1, "dtmf", "2")], 0.2)
    assert [d for d in map(detector.feed, frames) if d] == ["1", "2"]


def test_a_tone_shorter_than_two_frames_is_not_a_press() -> None:
    detector = DtmfDetector()
    frames = _frames([Sound(0.0, 0.02, "dtmf", "5")], 0.2)
    assert [d for d in map(detector.feed, frames) if d] == []


class _StalledSocket:
    """A websocket whose app reads nothing: every send waits forever, nothing ever arrives."""

    close_code = None
    close_reason = None

    def __init__(self) -> None:
        self.transport = self

    async def send(self, text: str) -> None:
        await asyncio.Event().wait()

    def __aiter__(self) -> _StalledSocket:
        return self

    async def __anext__(self) -> str:
        await asyncio.Event().wait()
        raise StopAsyncIteration

    async def close(self) -> None:
        return None

    def abort(self) -> None:
        return None


def test_stop_is_queued_last_even_when_the_backlog_is_full() -> None:
    """A full outgoing queue makes room for ``stop`` (dropping the oldest frames), never drops it."""

    async def scenario() -> list[str | None]:
        socket = streams.Socket(_StalledSocket(), asyncio.create_task, lambda _: None, lambda _: None)  # type: ignore[arg-type]
        await asyncio.sleep(0)  # the writer takes the first message and stalls on it
        while socket.room() > 0:
            assert socket.send_text('{"eventType":"media"}')
        assert not socket.send_text('{"eventType":"media"}')
        socket.finish({"eventType": "stop"})
        queued: list[str | None] = []
        while not socket._queue.empty():
            queued.append(socket._queue.get_nowait())
        socket.abort()
        await asyncio.sleep(0)
        return queued

    queued = asyncio.run(scenario())
    assert queued[-2:] == ['{"eventType":"stop"}', None]
    assert len(queued) == streams.MAX_BACKLOG


# ------------------------------------------------------------------------------ the playout buffer


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now


class _Leg:
    """What a :class:`streams.MediaStream` needs of its leg: a clock, the party's audio, ``send``."""

    def __init__(self, heard: list[Sound]) -> None:
        self.clock = _Clock()
        self.heard = heard
        self.played: list[Sound] = []
        self.id = "c-1"

    def send(self, sound: Sound) -> None:
        self.played.append(sound)


class _EchoSocket:
    """The app's side of a bidirectional stream: every media frame it is sent, it plays back."""

    def __init__(self) -> None:
        self.unanswered: list[str] = []

    def stalled(self) -> bool:
        return False

    def room(self) -> int:
        return streams.MAX_BACKLOG

    def send_text(self, text: str) -> bool:
        message = json.loads(text)
        if message["eventType"] == "media":
            self.unanswered.append(message["payload"])
        return True

    def replies(self) -> list[str]:
        out = [json.dumps({"eventType": "playAudio", "media": {"payload": p}}) for p in self.unanswered]
        self.unanswered.clear()
        return out


def _echo_call(party: list[Sound], ticks: list[float], seconds: float) -> list[Sound]:
    """What a leg is played when an echoing agent answers every batch of frames at once, and the
    simulator's ticks come at ``ticks`` (a missing stretch is the simulator's loop stalling)."""
    leg = _Leg(party)
    stream = streams.MediaStream(leg, {"id": "s-1", "name": "bot", "tracks": ["inbound"]}, {}, True)  # type: ignore[arg-type]
    socket = _EchoSocket()
    stream.socket = socket  # type: ignore[assignment]
    for now in [*ticks, *(t / 50 for t in range(round(ticks[-1] * 50) + 1, round(seconds * 50) + 1))]:
        leg.clock.now = now
        stream.advance(now)
        for reply in socket.replies():
            stream._message(reply)  # the agent's echo arrives before the next tick
    return leg.played


def _ticks(seconds: float, stall: tuple[float, float] | None = None) -> list[float]:
    count = round(seconds / streams.FRAME_SECONDS)
    every = [round(i * streams.FRAME_SECONDS, 2) for i in range(1, count + 1)]
    if stall is None:
        return every
    return [t for t in every if not stall[0] < t < stall[1]]


@pytest.mark.parametrize("stall", [None, (0.2, 0.34), (0.25, 0.44)], ids=["steady", "140ms", "190ms"])
def test_an_echoed_tone_is_one_press_and_plays_without_a_gap_when_the_loop_stalls(
    stall: tuple[float, float] | None,
) -> None:
    # A 300 ms "9" from the party, echoed by the agent; the simulator's loop misses up to 190 ms of
    # ticks in the middle of it (a busy machine) and catches up in one batch.
    played = _echo_call([Sound(0.1, 0.3, "dtmf", "9")], _ticks(0.6, stall), 1.2)
    assert [s.data for s in played if s.kind == "dtmf"] == ["9"]
    audio = [s for s in played if s.kind == "audio"]
    loud = [s.start for s in audio if s.pcm and frame_digit(s.pcm) == "9"]
    assert loud, "the echo was played"
    assert all(round(b - a, 3) == streams.FRAME_SECONDS for a, b in itertools.pairwise(loud))
    # It starts playing the buffer's delay after the first echo arrived, not before.
    assert min(s.start for s in audio) >= streams.FRAME_SECONDS + streams.PLAYOUT_DELAY - 1e-9


@pytest.mark.parametrize("stall", [None, (0.3, 0.49), (0.3, 0.61)], ids=["steady", "190ms", "300ms"])
def test_an_echoed_sentence_is_heard_whole_when_the_loop_stalls(stall: tuple[float, float] | None) -> None:
    # 190 ms: the playout buffer covers it.  300 ms: longer than the buffer, which runs dry and
    # fills again; the sentence has a gap of a few hundred ms, and a recogniser still hears it.
    text = "book a table"
    played = _echo_call([Sound(0.1, speech_seconds(text), "speech", text)], _ticks(1.0, stall), 2.5)
    assert [s.data for s in played if s.kind == "speech"] == [text]


def test_audio_after_the_queue_ran_dry_waits_for_the_buffer_again_and_clear_empties_it() -> None:
    leg = _Leg([])
    stream = streams.MediaStream(leg, {"id": "s-1", "name": "bot", "tracks": ["inbound"]}, {}, True)  # type: ignore[arg-type]
    stream.socket = _EchoSocket()  # type: ignore[assignment]
    tone = pcmu.encode(render([(0.0, 0.1)], [Sound(0.0, 0.1, "dtmf", "1")]).tobytes())
    media = {"contentType": "audio/pcmu", "payload": base64.b64encode(tone).decode()}
    play = json.dumps({"eventType": "playAudio", "media": media})

    def run(until: float) -> None:
        while leg.clock.now < until - 1e-9:
            leg.clock.now = round(leg.clock.now + streams.FRAME_SECONDS, 2)
            stream.advance(leg.clock.now)

    stream._message(play)  # arrives at 0.0: plays from 0.2 to 0.3
    run(1.0)
    stream._message(play)  # the queue ran dry at 0.3: this one waits the full delay again
    run(2.0)
    stream._message(play)
    stream._message(json.dumps({"eventType": "clear"}))  # dropped before it played
    run(3.0)
    starts = [s.start for s in leg.played if s.kind == "audio"]
    assert starts[0] == pytest.approx(streams.PLAYOUT_DELAY)
    assert starts[5] == pytest.approx(1.0 + streams.PLAYOUT_DELAY)
    assert len(starts) == 10
    assert [s.data for s in leg.played if s.kind == "dtmf"] == ["1", "1"]
