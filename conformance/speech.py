"""The simulator's speech stand-in: a sound that carries the words it stands for.

No text-to-speech engine ships with the project, so a ``<SpeakSentence>`` is rendered as a
deterministic multi-tone (MFSK) signal in the voice band that any listener can turn back into the
exact text: an agent on a media stream hears the words, and an agent that answers with the
stand-in in a bidirectional stream is heard by the other leg's speech gathers and transcriptions.
The simulator and the suite share this module (standard library only), as they share
:mod:`conformance.pcmu` and :mod:`conformance.dtmf`.

The signal, at 8000 samples a second (16-bit PCM, as the rest of the simulator):

* every *symbol* lasts 20 ms (160 samples) and is one pure tone at amplitude 8000 from an
  alphabet of 19, all multiples of 100 Hz so that any 10 ms window (80 samples) holds a whole
  number of cycles (the tones are orthogonal over it and each symbol starts and ends at phase 0);
* tones 0 to 16 are data, 1700 Hz to 3300 Hz in steps of 100 Hz, above every DTMF frequency;
  tone 17 (500 Hz) is the start marker and tone 18 (1100 Hz) the end marker;
* an utterance is two start symbols, the UTF-8 bytes of the text as nibbles (high nibble first),
  then two end symbols: 40 ms + 40 ms per byte + 40 ms;
* nibbles are sent differentially so that two symbols in a row never share a tone: the first
  nibble ``d`` is tone ``d``, each next one is tone ``(previous + 1 + d) mod 17``.  A receiver
  therefore needs no symbol clock: it reads the dominant tone of each 10 ms window, whatever the
  offset, skips windows without one, and counts a symbol at each change of tone.

A window holds a tone when its energy is above about -44 dBFS and one tone carries at least half of
it; so gain, G.711 μ-law and silence around the utterance do not matter.  Only one tone sounds at a
time (and never a DTMF row and column together), so a DTMF detector never fires on it.
"""

from __future__ import annotations

import array
import math
import operator
import sys
from dataclasses import dataclass
from functools import lru_cache

RATE = 8000
SYMBOL = 160  # samples per symbol (20 ms)
WINDOW = 80  # samples per analysis window (10 ms)
AMPLITUDE = 8000
DATA_TONES: tuple[float, ...] = tuple(1700.0 + 100.0 * i for i in range(17))
START_TONE = 500.0
END_TONE = 1100.0
TONES: tuple[float, ...] = (*DATA_TONES, START_TONE, END_TONE)
_START = len(DATA_TONES)
_END = _START + 1
_MARKER_SYMBOLS = 2
MAX_TEXT_BYTES = 4096  # a decoder gives up on longer utterances (untrusted audio stays bounded)
_MIN_MEAN_SQUARE = 200.0**2  # quieter windows are silence (about -44 dBFS)
_MIN_SHARE = 0.5  # the dominant tone carries at least this share of a window's energy
# Windows in a row without a tone before an utterance is abandoned: 500 ms, about where a real
# recogniser decides a sentence is over, so a dropout in the audio (an app's late reply, a busy
# machine, a playout buffer filling again) does not cut one.  A gap loses no symbol: two symbols
# in a row never share a tone.
_MAX_MISSES = 50
_LITTLE = sys.byteorder == "little"


def _symbol(freq: float) -> array.array[int]:
    return array.array(
        "h", (round(AMPLITUDE * math.sin(2 * math.pi * freq * i / RATE)) for i in range(SYMBOL))
    )


def _table(freq: float) -> tuple[array.array[float], array.array[float]]:
    angle = [2 * math.pi * freq * i / RATE for i in range(WINDOW)]
    return array.array("d", map(math.cos, angle)), array.array("d", map(math.sin, angle))


_SYMBOLS = tuple(_symbol(f) for f in TONES)
_TABLES = tuple(_table(f) for f in TONES)


@lru_cache(maxsize=256)
def symbols(text: str) -> tuple[int, ...]:
    """The tone index of each symbol of the utterance of ``text``."""
    out = [_START] * _MARKER_SYMBOLS
    previous: int | None = None
    for byte in text.encode("utf-8"):
        for nibble in (byte >> 4, byte & 0x0F):
            tone = nibble if previous is None else (previous + 1 + nibble) % len(DATA_TONES)
            out.append(tone)
            previous = tone
    out.extend([_END] * _MARKER_SYMBOLS)
    return tuple(out)


def seconds(text: str) -> float:
    """How long the stand-in for ``text`` lasts."""
    return len(symbols(text)) * SYMBOL / RATE


def samples(text: str, offset: int = 0, count: int | None = None) -> array.array[int]:
    """Samples ``offset`` to ``offset + count`` of the stand-in (fewer past its end).

    Only the symbols asked for are assembled, so a long text is never rendered whole.
    """
    tones = symbols(text)
    total = len(tones) * SYMBOL
    stop = total if count is None else min(total, offset + count)
    out = array.array("h")
    if offset >= stop:
        return out
    first, last = offset // SYMBOL, (stop - 1) // SYMBOL
    for tone in tones[first : last + 1]:
        out.extend(_SYMBOLS[tone])
    skip = offset - first * SYMBOL
    return out[skip : skip + stop - offset]


def encode(text: str) -> bytes:
    """The stand-in for ``text`` as 16-bit little-endian PCM samples at 8000 Hz."""
    out = samples(text)
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        out.byteswap()
    return out.tobytes()


def _floats(pcm: bytes) -> array.array[float]:
    ints = array.array("h")
    ints.frombytes(pcm[: len(pcm) & ~1])
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        ints.byteswap()
    return array.array("d", ints)  # float products: no big-int arithmetic


def _share(window: array.array[float], tone: int, energy: float) -> float:
    cos, sin = _TABLES[tone]
    c: float = sum(map(operator.mul, window, cos))
    s: float = sum(map(operator.mul, window, sin))
    return 2 * (c * c + s * s) / (WINDOW * energy)


def _energy(window: array.array[float]) -> float | None:
    energy = float(sum(map(operator.mul, window, window)))
    return None if energy / WINDOW < _MIN_MEAN_SQUARE else energy


def window_tone(window: array.array[float], likely: int | None = None) -> int | None:
    """The stand-in tone that dominates one 10 ms window of samples, if any.

    The tones are orthogonal over a window, so at most one can carry half its energy: the search
    stops there, trying ``likely`` (the tone of the window before) first.
    """
    energy = _energy(window)
    if energy is None:
        return None
    if likely is not None and _share(window, likely, energy) >= _MIN_SHARE:
        return likely
    for tone in range(len(TONES)):
        if tone != likely and _share(window, tone, energy) >= _MIN_SHARE:
            return tone
    return None


def is_speech(frame: bytes) -> bool:
    """Whether a frame of 16-bit PCM (typically 20 ms) holds a tone of the stand-in."""
    values = _floats(frame)
    return any(
        window_tone(values[i : i + WINDOW]) is not None for i in range(0, len(values) - WINDOW + 1, WINDOW)
    )


@dataclass(frozen=True)
class Utterance:
    """A recognised text and where it lay, in samples since the decoder's first sample."""

    text: str
    start: int
    end: int


class SpeechDecoder:
    """Recognises stand-in utterances in a stream of 16-bit PCM of any frame size.

    :meth:`feed` returns the utterances whose end marker it completed.  While no utterance is
    under way, a window costs two correlations (its energy and the start tone's share), so
    listening to ordinary audio stays cheap.
    """

    def __init__(self) -> None:
        self._pending = array.array("d")
        self.position = 0  # samples consumed
        self._reset()

    def _reset(self) -> None:
        self._active = False
        self._start = 0
        self._last: int | None = None
        self._previous_data: int | None = None
        self._nibbles: list[int] = []
        self._misses = 0

    def feed(self, pcm: bytes) -> list[Utterance]:
        self._pending.extend(_floats(pcm))
        found: list[Utterance] = []
        usable = len(self._pending) - len(self._pending) % WINDOW
        for i in range(0, usable, WINDOW):
            utterance = self._window(self._pending[i : i + WINDOW])
            self.position += WINDOW
            if utterance is not None:
                found.append(utterance)
        del self._pending[:usable]
        return found

    def skip(self, count: int) -> None:
        """``count`` samples of silence: only counted while no utterance is under way."""
        if self._active:
            self.feed(bytes(2 * count))
            return
        self.position += len(self._pending) + count
        del self._pending[:]

    def _window(self, window: array.array[float]) -> Utterance | None:
        if not self._active:
            energy = _energy(window)
            if energy is not None and _share(window, _START, energy) >= _MIN_SHARE:
                self._active, self._start, self._last = True, self.position, _START
            return None
        tone = window_tone(window, self._last)
        if tone is None:
            self._misses += 1
            if self._misses > _MAX_MISSES:
                self._reset()
            return None
        self._misses = 0
        if tone == self._last:
            return None
        self._last = tone
        if tone == _START:  # a new utterance starts over
            self._reset()
            self._active, self._start, self._last = True, self.position, _START
            return None
        if tone == _END:
            return self._finish()
        previous = self._previous_data
        nibble = tone if previous is None else (tone - previous - 1) % len(DATA_TONES)
        if nibble > 0x0F or len(self._nibbles) >= 2 * MAX_TEXT_BYTES:
            self._reset()
            return None
        self._nibbles.append(nibble)
        self._previous_data = tone
        return None

    def _finish(self) -> Utterance | None:
        nibbles, start = self._nibbles, self._start
        self._reset()
        if not nibbles or len(nibbles) % 2:
            return None
        data = bytes((high << 4) | low for high, low in zip(nibbles[::2], nibbles[1::2], strict=True))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        end = self.position + _MARKER_SYMBOLS * SYMBOL  # the end marker's first window starts here
        return Utterance(text, start, end)


__all__ = [
    "DATA_TONES",
    "END_TONE",
    "RATE",
    "START_TONE",
    "TONES",
    "SpeechDecoder",
    "Utterance",
    "encode",
    "is_speech",
    "samples",
    "seconds",
    "symbols",
    "window_tone",
]
