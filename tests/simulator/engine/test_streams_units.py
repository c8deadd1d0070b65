"""DTMF detection in the audio an agent plays back (bidirectional streams), and the socket queue."""

from __future__ import annotations

import asyncio

import pytest

from conformance import pcmu
from conformance.simulator.engine import streams
from conformance.simulator.engine.media import Sound, render
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
