"""DTMF detection in the audio an agent plays back (bidirectional streams)."""

from __future__ import annotations

import pytest

from conformance import pcmu
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


def test_a_tone_shorter_than_two_frames_is_not_a_press() -> None:
    detector = DtmfDetector()
    frames = _frames([Sound(0.0, 0.02, "dtmf", "5")], 0.2)
    assert [d for d in map(detector.feed, frames) if d] == []
