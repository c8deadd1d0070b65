"""The bounded pieces on their own: the byte-bounded cache, the document cache, audio decoding."""

from __future__ import annotations

import array
import io
import struct
import wave

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.simulator.engine import documents
from conformance.simulator.engine.caches import ByteBoundedCache
from conformance.simulator.engine.documents import InvalidBxml, load
from conformance.simulator.engine.media import (
    MAX_DECODED_SECONDS,
    RATE,
    Sound,
    _resample,
    decode_audio,
    render,
)
from conformance.simulator.engine.recording import MAX_RENDERED_SECONDS, _first, silent_mp3


def _wav(frames: bytes, rate: int, channels: int = 1, width: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return out.getvalue()


def test_the_cache_keeps_within_its_bytes_oldest_used_first() -> None:
    cache: ByteBoundedCache[str, str] = ByteBoundedCache(100, max_entry=60)
    assert cache.put("a", "A", 40)
    assert cache.put("b", "B", 40)
    assert cache.get("a") == "A"  # now b is the oldest used
    assert cache.put("c", "C", 40)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")
    assert not cache.put("big", "X", 61)
    assert "big" not in cache
    assert cache.total == 80
    cache.put("a", "A2", 10)  # replacing an entry counts only the new cost
    assert cache.total == 50
    assert len(cache) == 2


def test_the_cache_drops_expired_entries() -> None:
    cache: ByteBoundedCache[str, int] = ByteBoundedCache(1000)
    cache.put("k", 1, 10, expires=100.0)
    assert cache.get("k", 99.0) == 1
    assert cache.get("k", 100.0) is None
    assert cache.total == 0


def test_replies_are_cached_only_within_the_bxml_limit() -> None:
    small = "<Response><Pause/></Response>"
    huge = "<Response>" + "<Pause/>" * 1_000_000 + "</Response>"  # 8 MB: refused, never kept
    load(small, "call")
    with pytest.raises(InvalidBxml):
        load(huge, "call")
    with pytest.raises(InvalidBxml):
        load(huge, "call")
    assert (small, "call") in documents._CACHE
    assert (huge, "call") not in documents._CACHE
    assert documents._CACHE.total <= documents._CACHE.max_bytes


def test_reply_bytes_are_decoded_by_the_validator() -> None:
    with pytest.raises(InvalidBxml, match="UTF-8"):
        load(b"<Response><SpeakSentence>caf\xe9</SpeakSentence></Response>", "call")
    assert load("<Response><SpeakSentence>café</SpeakSentence></Response>".encode(), "call").verbs
    assert load(b" \r\n", "call").verbs == ()


@settings(max_examples=40, deadline=None)
@given(
    samples=st.lists(st.integers(-32768, 32767), min_size=0, max_size=400),
    rate=st.sampled_from([8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 8001]),
)
def test_resampling_picks_the_nearest_earlier_sample(samples: list[int], rate: int) -> None:
    source = array.array("h", samples)
    out = _resample(source, rate)
    assert len(out) == len(samples) * RATE // rate
    assert list(out) == [source[i * rate // RATE] for i in range(len(out))]


def test_a_wav_longer_than_an_hour_plays_whole_with_one_hour_decoded() -> None:
    seconds = int(MAX_DECODED_SECONDS) + 600
    info = decode_audio(_wav(bytes(2 * RATE * seconds), RATE), "audio/wav", "x.wav")
    assert info.duration == seconds
    assert info.pcm is not None
    assert len(info.pcm) == 2 * RATE * int(MAX_DECODED_SECONDS)


def test_eight_bit_stereo_wav_is_widened_and_mixed_down() -> None:
    frames = bytes([0x80, 0x00, 0xFF, 0x10]) * 8000  # left: silence then full scale; right ignored
    info = decode_audio(_wav(frames, 16000, channels=2, width=1), "audio/wav", "x.wav")
    assert info.duration == 1.0
    assert info.pcm is not None
    first = struct.unpack("<2h", info.pcm[:4])
    assert first == (0, 0)  # 16 kHz -> 8 kHz keeps every other frame: the silent ones


def test_garbage_decodes_as_nothing_whatever_its_label() -> None:
    garbage = [b"\xff" * (4 << 20), bytes(4 << 20), b"RIFF\xff\xff\xff\xffWAVE" + b"\0" * 10_000]
    garbage.append(b"RIFF" + b"\0" * 4 + b"WAVE" + b"junk\0\0\0\0" * 200_000)
    for blob in garbage:
        for ctype, url in (("audio/mpeg", "a.mp3"), ("audio/wav", "a.wav"), ("", "a")):
            assert decode_audio(blob, ctype, url).duration == 0.0


def test_a_long_mp3_is_measured_without_walking_every_frame() -> None:
    info = decode_audio(silent_mp3(2 * MAX_DECODED_SECONDS), "audio/mpeg", "x.mp3")
    assert info.duration == pytest.approx(2 * MAX_DECODED_SECONDS, rel=0.01)


def test_rendering_makes_only_the_samples_asked_for() -> None:
    year = 365 * 86400.0
    sounds = [Sound(0.0, year, "speech", "hello"), Sound(0.0, year, "audio", "http://x/a.wav")]
    out = render([(year / 2, year / 2 + 2)], sounds)  # 2 s in the middle of a year of sound
    assert len(out) == 2 * RATE
    assert any(out)


def test_recording_media_holds_at_most_the_first_three_hours() -> None:
    assert _first([(0, 10), (20, 30)], 15) == [(0, 10), (20, 25)]
    assert _first([(0, 10)], 0) == []
    assert _first([(0, 4)], MAX_RENDERED_SECONDS) == [(0, 4)]
