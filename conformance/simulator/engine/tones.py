"""DTMF detection in audio an app plays into a call (a bidirectional stream's ``playAudio``).

Each 20 ms frame (160 samples at 8 kHz) is correlated with the eight DTMF frequencies (the
Goertzel power, computed as two dot products per frequency with ``sum(map(mul, ...))`` so no
Python code runs per sample).  A frame holds a digit when the strongest low and high frequencies
carry most of its energy; a key press is reported once, when two frames in a row hold the same
digit (40 ms, the shortest tone ITU-T Q.24 asks receivers to accept), and ends after two frames in
a row without it (40 ms, Q.24's shortest pause between digits).  One frame missing from a tone, as
when the app's audio arrives a little late and the call plays 20 ms of silence, is a dropout
bridged by the press, not the end of one key press and the start of another.
"""

from __future__ import annotations

import array
import math
import operator

from conformance import dtmf
from conformance.simulator.engine.media import RATE

_LOW = dtmf.ROWS
_HIGH = dtmf.COLUMNS
_KEYS = dtmf.KEYS
FRAME = 160
_MIN_MEAN_SQUARE = 200.0**2  # quieter frames are silence (about -44 dBFS)
_MIN_SHARE = 0.2  # each of the two tones carries at least this share of the frame's energy
_MIN_BOTH = 0.6  # and together at least this much


def _tables(freq: float) -> tuple[array.array[float], array.array[float]]:
    cos = array.array("d", (math.cos(2 * math.pi * freq * i / RATE) for i in range(FRAME)))
    sin = array.array("d", (math.sin(2 * math.pi * freq * i / RATE) for i in range(FRAME)))
    return cos, sin


_TABLES = {f: _tables(f) for f in _LOW + _HIGH}


def _share(samples: array.array[float], freq: float, energy: float) -> float:
    """The share of the frame's energy at ``freq``."""
    cos, sin = _TABLES[freq]
    c: float = sum(map(operator.mul, samples, cos))
    s: float = sum(map(operator.mul, samples, sin))
    return 2 * (c * c + s * s) / (len(samples) * energy)


def frame_digit(pcm: bytes) -> str | None:
    """The DTMF digit one 20 ms frame of 16-bit samples holds, if any."""
    ints = array.array("h")
    ints.frombytes(pcm[: 2 * FRAME])
    if len(ints) < FRAME:
        return None
    samples = array.array("d", ints)  # float products: no big-int arithmetic
    energy = float(sum(map(operator.mul, samples, samples)))
    if energy / FRAME < _MIN_MEAN_SQUARE:
        return None
    shares = {f: _share(samples, f, energy) for f in _TABLES}
    low = max(_LOW, key=shares.__getitem__)
    high = max(_HIGH, key=shares.__getitem__)
    if min(shares[low], shares[high]) < _MIN_SHARE or shares[low] + shares[high] < _MIN_BOTH:
        return None
    return _KEYS[_LOW.index(low)][_HIGH.index(high)]


_RELEASE_FRAMES = 2  # frames without the digit that end a press (40 ms)


class DtmfDetector:
    """Key presses in a stream of 20 ms frames: :meth:`feed` returns a digit once per press."""

    def __init__(self) -> None:
        self._previous: str | None = None  # the digit of the last frame
        self._pressed: str | None = None
        self._gap = 0  # frames in a row without the pressed digit

    def feed(self, pcm: bytes) -> str | None:
        digit = frame_digit(pcm)
        repeated = digit is not None and digit == self._previous
        self._previous = digit
        if self._pressed is not None:
            if digit == self._pressed:
                self._gap = 0
                return None
            self._gap += 1
            if self._gap < _RELEASE_FRAMES:
                return None
            self._pressed = None
        if not repeated:
            return None
        self._pressed, self._gap = digit, 0
        return digit


__all__ = ["FRAME", "DtmfDetector", "frame_digit"]
