"""The media channel between call legs, and the audio that recordings are made of.

A leg *emits* :class:`Sound` events (DTMF tones, spoken text, played audio); whoever is joined
to it *hears* them.  Each leg keeps two timelines, what it heard and what it played itself, so a
recording over any set of (virtual) time intervals can be rendered into real 8 kHz 16-bit PCM:
DTMF as the standard dual tones, speech as the stand-in of :mod:`conformance.speech` (tones that
carry the text, so a listener recovers the words), played audio as its own samples when it is PCM
WAV, and silence everywhere else.
"""

from __future__ import annotations

import array
import io
import math
import struct
import wave
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Literal

from conformance import dtmf, speech
from conformance.simulator.engine.caches import ByteBoundedCache

RATE = 8000
SoundKind = Literal["dtmf", "speech", "audio", "tone"]

_DTMF_FREQS = dtmf.FREQUENCIES


@dataclass(frozen=True)
class Sound:
    """Something audible on a leg during ``[start, start + duration)`` (virtual seconds)."""

    start: float
    duration: float
    kind: SoundKind
    data: str = ""  # the digit, the spoken text, or the audio URL
    pcm: bytes | None = None  # 8 kHz 16-bit mono samples of played audio, when decodable

    @property
    def end(self) -> float:
        return self.start + self.duration


def speech_seconds(text: str) -> float:
    """How long a text-to-speech rendering of ``text`` lasts: about 150 words a minute, or longer
    when the speech stand-in that carries the text needs longer (long words, non-ASCII text)."""
    words = len(text.split())
    return round(max(0.5, 0.4 * words, speech.seconds(text)), 3)


@cache
def _dtmf_second(digit: str) -> array.array[int]:
    low, high = _DTMF_FREQS.get(digit.upper(), (697.0, 1209.0))
    out = array.array("h", bytes(2 * RATE))
    for i in range(RATE):
        t = i / RATE
        out[i] = int(7000 * (math.sin(2 * math.pi * low * t) + math.sin(2 * math.pi * high * t)))
    return out


@cache
def _voice_second(seed: int) -> array.array[int]:
    """One second of a buzzy, syllable-modulated voice-band signal, varied by ``seed``."""
    pitch = 110.0 + seed % 90
    out = array.array("h", bytes(2 * RATE))
    for i in range(RATE):
        t = i / RATE
        envelope = 0.55 + 0.45 * math.sin(2 * math.pi * 4.0 * t)
        value = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in (1, 2, 3, 5))
        out[i] = int(5000 * envelope * value)
    return out


def _tile(second: array.array[int], offset: int, count: int) -> array.array[int]:
    """``count`` samples of a one-second loop, from sample ``offset`` of the whole sound."""
    offset %= RATE
    reps = (offset + count) // RATE + 1
    return (second * reps)[offset : offset + count]


def _samples(sound: Sound, offset: int, count: int) -> array.array[int] | None:
    """Samples ``offset`` to ``offset + count`` of ``sound`` (fewer where decoded audio ends).

    Only the part asked for is made: a sound may last days of simulated time.
    """
    if sound.kind == "dtmf":
        return _tile(_dtmf_second(sound.data or "1"), offset, count)
    if sound.kind == "speech":  # the stand-in, then silence for the rest of the sentence's time
        return speech.samples(sound.data, offset, count)
    if sound.kind == "audio" and sound.pcm:
        pcm = array.array("h")
        pcm.frombytes(sound.pcm[2 * offset : 2 * (offset + count)])
        return pcm
    if sound.kind in ("audio", "tone"):
        return _tile(_voice_second(zlib.crc32(sound.data.encode()) + 7), offset, count)
    return None


def render(intervals: list[tuple[float, float]], sounds: list[Sound]) -> array.array[int]:
    """PCM samples for the concatenation of ``intervals`` of a timeline of ``sounds``."""
    pieces: list[array.array[int]] = []
    for begin, finish in intervals:
        length = max(0, round((finish - begin) * RATE))
        buf = array.array("h", bytes(2 * length))
        for sound in sounds:
            if sound.end <= begin or sound.start >= finish:
                continue
            src_from = max(0, round((begin - sound.start) * RATE))
            dst_from = max(0, round((sound.start - begin) * RATE))
            n = min(round(sound.duration * RATE) - src_from, length - dst_from)
            if n <= 0:
                continue
            src = _samples(sound, src_from, n)
            if src is not None and len(src) > 0:
                buf[dst_from : dst_from + len(src)] = src
        pieces.append(buf)
    total = array.array("h")
    for piece in pieces:
        total.extend(piece)
    return total


def wav_bytes(channels: list[array.array[int]]) -> bytes:
    """A PCM WAV (8 kHz, 16-bit) with one or more equally long channels."""
    length = max((len(c) for c in channels), default=0)
    if len(channels) == 1:
        frames = channels[0].tobytes()
    else:
        mixed = array.array("h", bytes(2 * length * len(channels)))
        for index, channel in enumerate(channels):
            mixed[index : index + len(channel) * len(channels) : len(channels)] = channel
        frames = mixed.tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(len(channels))
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(frames)
    return out.getvalue()


# ------------------------------------------------------------------------------- audio files


@dataclass(frozen=True)
class AudioInfo:
    """A fetched audio file: its play time and, when decodable, 8 kHz mono PCM."""

    duration: float
    pcm: bytes | None
    kind: Literal["wav", "mp3", "unknown"]


# Bounds on the work a fetched file may cause (the platform recommends files under 1 hour and
# 250 MB).  At most an hour of audio is decoded into samples; a longer file still plays for its full
# length, the part beyond the hour as silence.
MAX_DECODED_SECONDS = 3600.0
_MAX_WAV_CHUNKS = 1024  # RIFF chunks walked before giving up on a header
_MAX_RESYNC_BYTES = 1 << 18  # bytes of non-frame data skipped in a row before an MP3 walk gives up
_RATES = range(1000, 384_001)  # sample rates worth decoding; others play as silence of their length
_UNSIGNED_TO_SIGNED = bytes(b ^ 0x80 for b in range(256))


def _wav_header_duration(data: bytes) -> float | None:
    """Duration from a RIFF/WAVE header (any codec): data size over byte rate."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    for _ in range(_MAX_WAV_CHUNKS):
        if pos + 8 > len(data):
            break
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"fmt " and size >= 16 and pos + 20 <= len(data):
            byte_rate = struct.unpack("<I", data[pos + 16 : pos + 20])[0]
        if chunk == b"data":
            size = min(size, len(data) - pos - 8)
            # Below 1,000 bytes a second (8 kbit/s) no telephone codec plays: a forged header.
            return size / byte_rate if byte_rate >= 1000 else None
        pos += 8 + size + (size & 1)
    return None


def _resample(samples: array.array[int], rate: int) -> array.array[int]:
    """Nearest-earlier-sample resampling to 8 kHz, done with strided slices (no per-sample Python).

    Output sample ``i`` is input sample ``floor(i * rate / 8000)``: with ``g = gcd(rate, 8000)``,
    every block of ``rate / g`` input samples gives ``8000 / g`` output samples at fixed offsets.
    """
    if rate == RATE:
        return samples
    g = math.gcd(rate, RATE)
    step_in, step_out = rate // g, RATE // g
    count = len(samples) * RATE // rate
    out = array.array("h", bytes(2 * count))
    for j in range(step_out):
        offset = j * step_in // step_out
        picked = samples[offset::step_in]
        n = len(range(j, count, step_out))
        out[j::step_out] = picked[:n]
    return out


def _wav_pcm(data: bytes) -> tuple[float, bytes] | None:
    """Duration and 8 kHz mono 16-bit samples of a PCM WAV (at most an hour of them)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            if rate not in _RATES or width not in (1, 2) or channels < 1:
                return None
            limit = int(rate * MAX_DECODED_SECONDS)
            frames = wav.readframes(min(wav.getnframes(), limit))
    except (wave.Error, EOFError, struct.error):
        return None
    count = len(frames) // (width * channels)
    duration = count / rate
    if count >= limit:  # the first hour is decoded; the header says how long the whole file plays
        duration = max(duration, _wav_header_duration(data) or 0.0)
    if width == 2 and channels == 1 and rate == RATE:
        return duration, frames[: count * 2]  # already what is wanted: no copies
    if width == 2:
        samples = array.array("h")
        samples.frombytes(frames[: count * 2 * channels])
    else:
        widened = bytearray(2 * count * channels)
        widened[1::2] = frames[: count * channels].translate(_UNSIGNED_TO_SIGNED)
        samples = array.array("h")
        samples.frombytes(bytes(widened))
    if channels > 1:
        samples = samples[::channels]
    return duration, _resample(samples, rate).tobytes()


_MP3_BITRATES = {
    (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {1: (44100, 48000, 32000), 2: (22050, 24000, 16000), 25: (11025, 12000, 8000)}
# Second header bytes that can start a layer III frame: sync bits set, a known version, layer III.
_MP3_SECOND_BYTES = frozenset(
    b for b in range(256) if b >> 5 == 7 and (b >> 3) & 3 != 1 and (b >> 1) & 3 == 1
)


def mp3_duration(data: bytes) -> float | None:
    """Play time of an MPEG audio layer III stream, by walking its frame headers.

    The walk is bounded: after an hour of frames the rest is estimated from the last bit rate, and
    256 KB without a frame header (or 512 K false starts in all) end it.
    """
    pos = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = data[6:10]
        pos = 10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
    total, frames, last_frame_end = 0.0, 0, pos
    misses = 0  # candidate headers refused, over the whole walk
    while pos + 4 <= len(data) and misses < 2 * _MAX_RESYNC_BYTES:
        if pos - last_frame_end > _MAX_RESYNC_BYTES:
            break
        if data[pos] != 0xFF:
            found = data.find(b"\xff", pos + 1, last_frame_end + _MAX_RESYNC_BYTES + 1)
            if found < 0:
                break
            pos = found
            continue
        if data[pos + 1] not in _MP3_SECOND_BYTES:
            pos, misses = pos + 1, misses + 1
            continue
        header = struct.unpack(">I", data[pos : pos + 4])[0]
        version_bits, layer_bits = (header >> 19) & 3, (header >> 17) & 3
        bitrate_index, rate_index = (header >> 12) & 15, (header >> 10) & 3
        padding = (header >> 9) & 1
        version = {3: 1, 2: 2, 0: 25}.get(version_bits)
        if version is None or layer_bits != 1 or bitrate_index in (0, 15) or rate_index == 3:
            pos, misses = pos + 1, misses + 1
            continue
        bitrate = _MP3_BITRATES[(1 if version == 1 else 2, 3)][bitrate_index] * 1000
        rate = _MP3_RATES[version][rate_index]
        samples = 1152 if version == 1 else 576
        length = (144 if version == 1 else 72) * bitrate // rate + padding
        if length <= 4:
            break
        total += samples / rate
        frames += 1
        pos += length
        last_frame_end = pos
        if total >= MAX_DECODED_SECONDS:  # the rest at the same bit rate
            total += max(0, len(data) - pos) * 8 / bitrate
            break
    return total if frames else None


def decode_audio(data: bytes, content_type: str = "", url: str = "") -> AudioInfo:
    """Work out what a PlayAudio file is and how long it plays.

    The format is chosen as the platform does: from ``Content-Type``, then the URL's extension,
    otherwise WAV.  Undecodable files play for zero seconds.  The work is bounded whatever the
    bytes: see :data:`MAX_DECODED_SECONDS`.  It is CPU work; the engine runs it off the event loop.
    """
    ctype = content_type.split(";")[0].strip().lower()
    path = url.split("?")[0].lower()
    is_mp3 = ctype in ("audio/mpeg", "audio/mp3", "audio/mpeg3") or (
        not ctype.startswith("audio/") and path.endswith(".mp3")
    )
    if is_mp3:
        duration = mp3_duration(data)
        return AudioInfo(duration or 0.0, None, "mp3" if duration else "unknown")
    decoded = _wav_pcm(data)
    if decoded is not None:
        return AudioInfo(decoded[0], decoded[1], "wav")
    header = _wav_header_duration(data)
    if header is not None:
        return AudioInfo(header, None, "wav")
    duration = mp3_duration(data)
    if duration:
        return AudioInfo(duration, None, "mp3")
    return AudioInfo(0.0, None, "unknown")


# ------------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class MediaLimits:
    """How much a PlayAudio fetch may cost (real seconds and bytes, whatever the server does).

    ``max_bytes``: a file bigger than this (by its ``Content-Length`` or as it streams) is
    abandoned.  ``deadline``: the whole fetch and decode, in real seconds; a slow or endless
    stream is abandoned then.  An abandoned or undecodable file plays as zero seconds of silence,
    as one that cannot be fetched.  ``hold``: how long (real seconds) a fetch keeps the virtual
    clock still, so that a quick server's audio starts at the very instant its verb began; past
    that the fetch goes on without holding anybody's time.  ``in_flight_bytes``: all the fetches
    of one simulator together hold at most this much; a fetch that would go beyond is abandoned.
    """

    max_bytes: int = 250 * 1024 * 1024
    deadline: float = 30.0
    hold: float = 1.0
    in_flight_bytes: int = 1024 * 1024 * 1024


class AudioCache(ByteBoundedCache[str, AudioInfo]):
    """PlayAudio files fetched with a ``Cache-Control: max-age`` (by URL, expiring on the
    simulator's clock), at most ``max_bytes`` of decoded samples in all, and the fetch limits."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, limits: MediaLimits | None = None) -> None:
        super().__init__(max_bytes)
        self.limits = limits or MediaLimits()
        self.in_flight = 0  # bytes held by fetches under way

    def reserve(self, size: int) -> bool:
        """Count ``size`` more bytes of a fetch under way; ``False`` beyond the limit."""
        if self.in_flight + size > self.limits.in_flight_bytes:
            return False
        self.in_flight += size
        return True

    @staticmethod
    def cost(info: AudioInfo) -> int:
        return 128 + len(info.pcm or b"")


__all__ = [
    "MAX_DECODED_SECONDS",
    "RATE",
    "AudioCache",
    "AudioInfo",
    "MediaLimits",
    "Sound",
    "SoundKind",
    "decode_audio",
    "mp3_duration",
    "render",
    "speech_seconds",
    "wav_bytes",
]
