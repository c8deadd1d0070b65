"""The speech stand-in (:mod:`conformance.speech`): text in, tones out, the same text back."""

from __future__ import annotations

import array
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import pcmu, speech
from conformance.simulator.engine.media import Sound, render, speech_seconds
from conformance.simulator.engine.tones import DtmfDetector

FRAME_BYTES = 2 * 160  # 20 ms of 16-bit samples


def _scaled(pcm: bytes, gain: float) -> bytes:
    samples = array.array("h")
    samples.frombytes(pcm)
    return array.array("h", (max(-32768, min(32767, round(x * gain))) for x in samples)).tobytes()


def _hear(pcm: bytes, frame: int = FRAME_BYTES) -> list[speech.Utterance]:
    decoder = speech.SpeechDecoder()
    found: list[speech.Utterance] = []
    for i in range(0, len(pcm), frame):
        found.extend(decoder.feed(pcm[i : i + frame]))
    return found


@settings(max_examples=25, deadline=None)
@given(text=st.text(min_size=1, max_size=24), offset=st.integers(0, 159))
def test_any_text_survives_mu_law_at_any_offset(text: str, offset: int) -> None:
    pcm = bytes(2 * offset) + speech.encode(text) + bytes(FRAME_BYTES)
    heard = _hear(pcmu.decode(pcmu.encode(pcm)))
    assert [u.text for u in heard] == [text]
    assert abs(heard[0].start - offset) <= speech.WINDOW  # where it began, within one window


@pytest.mark.parametrize("gain", [0.5, 0.7, 1.4, 2.0])  # -6 dB to +6 dB (clipping at the top)
def test_gain_does_not_matter(gain: float) -> None:
    pcm = bytes(2 * 37) + _scaled(speech.encode("turn left at the lights"), gain) + bytes(FRAME_BYTES)
    assert [u.text for u in _hear(pcmu.decode(pcmu.encode(pcm)))] == ["turn left at the lights"]


def test_odd_frame_sizes_and_utterances_in_a_row() -> None:
    pcm = speech.encode("one") + bytes(2 * 500) + speech.encode("two") + speech.encode("three")
    assert [u.text for u in _hear(pcm, frame=2 * 77)] == ["one", "two", "three"]


def test_a_cut_utterance_is_not_reported_and_the_next_one_is() -> None:
    cut = speech.encode("never finished")[: 2 * 1000]
    pcm = cut + bytes(2 * 400) + speech.encode("yes")
    assert [u.text for u in _hear(pcm)] == ["yes"]


def test_the_stand_in_never_presses_a_dtmf_key() -> None:
    text = "".join(chr(c) for c in range(32, 127)) + " éàü 日本"
    pcm = pcmu.decode(pcmu.encode(bytes(2 * 91) + speech.encode(text)))
    detector = DtmfDetector()
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    assert [digit for frame in frames if (digit := detector.feed(frame))] == []
    assert [u.text for u in _hear(pcm)] == [text]


def test_is_speech_tells_the_stand_in_from_silence_dtmf_and_noise() -> None:
    frame = speech.encode("hello")[:FRAME_BYTES]
    assert speech.is_speech(frame)
    assert not speech.is_speech(bytes(FRAME_BYTES))
    dtmf = render([(0.0, 0.02)], [Sound(0.0, 1.0, "dtmf", "5")]).tobytes()
    assert not speech.is_speech(dtmf)
    noise = random.Random(7)
    white = array.array("h", (noise.randint(-8000, 8000) for _ in range(160))).tobytes()
    assert not speech.is_speech(white)


def test_noise_and_garbage_are_never_words() -> None:
    rng = random.Random(3)
    garbage = bytes(rng.randrange(256) for _ in range(2 * 8000))
    assert _hear(garbage) == []
    assert _hear(pcmu.decode(bytes(rng.randrange(256) for _ in range(8000)))) == []


def test_a_simulated_speak_sentence_is_the_stand_in_and_lasts_long_enough() -> None:
    text = "supercalifragilisticexpialidocious"  # one word: longer than 0.4 s of stand-in
    assert speech_seconds(text) == pytest.approx(speech.seconds(text))
    assert speech_seconds("one two three") == pytest.approx(1.2)  # ordinary text keeps its pace
    duration = speech_seconds("one two three")
    rendered = render([(0.0, 0.01), (0.01, duration)], [Sound(0.0, duration, "speech", "one two three")])
    assert [u.text for u in _hear(rendered.tobytes())] == ["one two three"]
    # Rendering only what is asked for: a window in the middle is the same samples.
    middle = render([(0.2, 0.3)], [Sound(0.0, duration, "speech", "one two three")])
    assert middle.tobytes() == speech.encode("one two three")[2 * 1600 : 2 * 2400]


def test_skipped_silence_keeps_positions_in_samples() -> None:
    decoder = speech.SpeechDecoder()
    decoder.skip(1000)
    heard = decoder.feed(speech.encode("ok"))
    assert [(u.text, u.start) for u in heard] == [("ok", 1000)]
    assert heard[0].end == 1000 + len(speech.encode("ok")) // 2


@pytest.mark.parametrize("cut", [0, 37, 80, 160, 777])  # inside a symbol, at its edges, anywhere
def test_a_dropout_inside_an_utterance_does_not_cut_it_but_a_long_silence_does(cut: int) -> None:
    pcm = speech.encode("book a table")
    at = 2 * (400 + cut)
    for gap_ms, heard in ((40, ["book a table"]), (490, ["book a table"]), (600, [])):
        dropped = pcm[:at] + bytes(2 * 8 * gap_ms) + pcm[at:] + bytes(FRAME_BYTES)
        assert [u.text for u in _hear(dropped)] == heard
