"""G.711 mu-law (PCMU) at 8 kHz, in pure Python: the audio every Bandwidth media stream carries.

The codec is :mod:`conformance.pcmu` (the simulator's too); here are sample-list conveniences over
it, tones (DTMF pairs) and a Goertzel power measure, for checks of what a stream carried.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from conformance import dtmf as keypad
from conformance import pcmu

SAMPLE_RATE = 8000
#: Bytes (= samples) in one 20 ms PCMU frame, the usual real-time frame.
FRAME_BYTES = 160

#: The DTMF keypad: digit -> (row frequency, column frequency) in Hz.
DTMF_FREQUENCIES: dict[str, tuple[float, float]] = keypad.FREQUENCIES


_DECODE = tuple(pcmu.decode_sample(v) for v in range(256))


def ulaw_decode(data: bytes) -> list[int]:
    """16-bit linear samples of PCMU bytes (every byte value is a valid sample)."""
    table = _DECODE
    return [table[b] for b in data]


def ulaw_encode(samples: Iterable[int]) -> bytes:
    """PCMU bytes of 16-bit linear samples (values beyond +-32635 are clipped)."""
    return bytes(pcmu.encode_sample(int(s)) for s in samples)


#: The PCMU byte of a zero sample: what silence is made of.
SILENCE_BYTE = pcmu.SILENCE


def silence(duration: float) -> bytes:
    """``duration`` seconds of PCMU silence."""
    return bytes([SILENCE_BYTE]) * round(duration * SAMPLE_RATE)


def tones(frequencies: Sequence[float], duration: float, *, amplitude: int = 8000) -> bytes:
    """PCMU of the sum of sine ``frequencies`` (each at ``amplitude``) for ``duration`` seconds."""
    count = round(duration * SAMPLE_RATE)
    steps = [2 * math.pi * f / SAMPLE_RATE for f in frequencies]
    return ulaw_encode(round(amplitude * sum(math.sin(step * n) for step in steps)) for n in range(count))


def dtmf(digits: str, *, tone: float = 0.1, gap: float = 0.06) -> bytes:
    """PCMU of ``digits`` as DTMF pairs, ``tone`` seconds each with ``gap`` seconds of silence after."""
    out = bytearray()
    for digit in digits:
        pair = DTMF_FREQUENCIES.get(digit.upper())
        if pair is None:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        out += tones(pair, tone)
        out += silence(gap)
    return bytes(out)


def goertzel_power(samples: Sequence[int], frequency: float) -> float:
    """Power of ``frequency`` in ``samples`` (Goertzel), normalised by the block length."""
    if not samples:
        return 0.0
    coefficient = 2 * math.cos(2 * math.pi * frequency / SAMPLE_RATE)
    previous = before = 0.0
    for sample in samples:
        previous, before = sample + coefficient * previous - before, previous
    return (previous * previous + before * before - coefficient * previous * before) / len(samples)


def tone_share(data: bytes, frequency: float) -> float:
    """How much of the PCMU ``data``'s energy sits at ``frequency``: 0 to 1, about 1 for a pure tone
    at it and 0.5 for each tone of a DTMF pair."""
    samples = ulaw_decode(data)
    energy = sum(s * s for s in samples)
    if not energy:
        return 0.0
    return goertzel_power(samples, frequency) * 2 / energy


def pair_share(data: bytes, pair: Sequence[float], *, window: float = 0.05) -> float:
    """The largest share of energy the weaker tone of ``pair`` holds in any ``window``-second slice of
    the PCMU ``data`` (slices overlap by half): about 0.5 where a DTMF digit of that pair sounds,
    near 0 where it does not.  Slices quieter than -50 dBFS count as silence."""
    size = max(1, round(window * SAMPLE_RATE))
    samples = ulaw_decode(data)
    best = 0.0
    for start in range(0, max(1, len(samples) - size + 1), max(1, size // 2)):
        block = samples[start : start + size]
        energy = sum(s * s for s in block)
        if energy < len(block) * 100**2:
            continue
        best = max(best, min(goertzel_power(block, f) * 2 / energy for f in pair))
    return best


__all__ = [
    "DTMF_FREQUENCIES",
    "FRAME_BYTES",
    "SAMPLE_RATE",
    "SILENCE_BYTE",
    "dtmf",
    "goertzel_power",
    "pair_share",
    "silence",
    "tone_share",
    "tones",
    "ulaw_decode",
    "ulaw_encode",
]
