"""G.711 μ-law (PCMU) with lookup tables built from the standard library.

``audioop`` is deprecated (and gone in Python 3.13), so the project carries its own codec, shared
by the simulator's streams and the suite's stream checks (:mod:`conformance.streams.audio`): a
65,536-byte table from every 16-bit sample to its μ-law byte, and two 256-byte tables from a μ-law
byte to the low and high bytes of its sample.  Encoding maps each sample through the table in C
(``map`` over an array); decoding is two ``bytes.translate`` calls interleaved by slice
assignment, so neither runs Python code per sample.  Samples are 16-bit little-endian, as in WAV.
"""

from __future__ import annotations

import array
import sys

_BIAS = 0x84
_CLIP = 32635
SILENCE = 0xFF  # the μ-law byte of a zero sample


def encode_sample(sample: int) -> int:
    """The μ-law byte of one signed 16-bit sample (ITU-T G.711)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, _CLIP) + _BIAS
    exponent = max(0, (magnitude >> 7).bit_length() - 1)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def decode_sample(byte: int) -> int:
    """The signed 16-bit sample a μ-law byte stands for."""
    value = ~byte & 0xFF
    exponent, mantissa = (value >> 4) & 0x07, value & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -magnitude if value & 0x80 else magnitude


_ENCODE = bytes(encode_sample(s - 65536 if s >= 32768 else s) for s in range(65536))
_DECODE_LOW = bytes(decode_sample(b) & 0xFF for b in range(256))
_DECODE_HIGH = bytes((decode_sample(b) >> 8) & 0xFF for b in range(256))
_LITTLE = sys.byteorder == "little"


def encode(pcm: bytes) -> bytes:
    """μ-law bytes for 16-bit little-endian samples (an odd trailing byte is ignored)."""
    samples = array.array("H")
    samples.frombytes(pcm[: len(pcm) & ~1])
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        samples.byteswap()
    return bytes(map(_ENCODE.__getitem__, samples))


def decode(data: bytes) -> bytes:
    """16-bit little-endian samples for μ-law bytes."""
    out = bytearray(2 * len(data))
    out[0::2] = data.translate(_DECODE_LOW)
    out[1::2] = data.translate(_DECODE_HIGH)
    return bytes(out)


__all__ = ["SILENCE", "decode", "decode_sample", "encode", "encode_sample"]
