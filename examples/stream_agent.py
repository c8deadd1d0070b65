"""An example voice agent on a Bandwidth media stream: it hears DTMF and words, and answers.

Point ``<StartStream destination="ws://127.0.0.1:8765/agent" mode="bidirectional"/>`` at it.  The
agent decodes the PCMU frames it receives (G.711 mu-law, 8 kHz), finds DTMF digits in them with the
Goertzel algorithm, keeps a transcript of the digits per stream and, for each digit it hears, sends
the same tone back as a ``playAudio`` message, so the caller hears each key confirmed.

It also hears the simulator's speech stand-in (what a ``<SpeakSentence>`` sounds like there: tones
that carry the text, see ``openapi/NOTES.md`` §9) with :class:`conformance.speech.SpeechDecoder`,
keeps the sentences per stream and answers each with the stand-in for "you said ...", which the
other leg's speech gathers and transcriptions receive as words.

Only the standard library, ``websockets`` and ``conformance.speech`` (itself standard library).
Hostile input is ignored, never fatal: binary frames, text that is not a JSON object, unknown
events, media before ``start``, frames longer than a second, bad base64.  Run it with
``python examples/stream_agent.py --port 8765``.

Detection costs about 14 ms of CPU per second of audio in pure Python (measured on a 2-core CI
machine), on the event loop: fine for a few dozen concurrent calls; beyond that, run the detector
in a process pool.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import binascii
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from conformance.speech import SpeechDecoder
from conformance.speech import encode as speak

RATE = 8000
BLOCK = 205  # samples per Goertzel block: ~26 ms, the classic size for telephone DTMF
MAX_FRAME = RATE  # a media frame over one second of audio is not a real-time frame: skipped
ROWS = (697, 770, 852, 941)
COLUMNS = (1209, 1336, 1477, 1633)
KEYS = ("123A", "456B", "789C", "*0#D")
log = logging.getLogger("stream_agent")


def _mulaw_to_linear(byte: int) -> int:
    byte = ~byte & 0xFF
    exponent = (byte >> 4) & 7
    magnitude = ((((byte & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return -magnitude if byte & 0x80 else magnitude


MULAW = [_mulaw_to_linear(b) for b in range(256)]


def _linear_to_mulaw(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)  # the segment: position of the top bit above 2**7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def tone_pcmu(digit: str, seconds: float = 0.12) -> bytes:
    """PCMU of the DTMF pair of ``digit``, followed by 60 ms of silence."""
    row = next(i for i, keys in enumerate(KEYS) if digit in keys)
    pair = (ROWS[row], COLUMNS[KEYS[row].index(digit)])
    count = int(seconds * RATE)
    samples = (round(7000 * sum(math.sin(2 * math.pi * f * n / RATE) for f in pair)) for n in range(count))
    return bytes(_linear_to_mulaw(s) for s in samples) + bytes([0xFF]) * int(0.06 * RATE)


def speech_pcmu(text: str) -> bytes:
    """PCMU of the speech stand-in for ``text``."""
    samples = array.array("h")
    samples.frombytes(speak(text))
    return bytes(_linear_to_mulaw(s) for s in samples)


def _power(samples: list[int], frequency: int) -> float:
    k = 2 * math.cos(2 * math.pi * frequency / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


@dataclass
class DtmfDetector:
    """Feeds on linear samples; a digit counts once it fills two blocks in a row, and once only."""

    pending: list[int] = field(default_factory=list)
    candidate: str | None = None
    reported: str | None = None

    def feed(self, samples: Iterable[int]) -> list[str]:
        self.pending.extend(samples)
        digits: list[str] = []
        while len(self.pending) >= BLOCK:
            block, self.pending = self.pending[:BLOCK], self.pending[BLOCK:]
            digit = self._classify(block)
            if digit is not None and digit == self.candidate and digit != self.reported:
                digits.append(digit)
                self.reported = digit
            if digit is None:
                self.reported = None
            self.candidate = digit
        return digits

    @staticmethod
    def _classify(block: list[int]) -> str | None:
        energy = sum(x * x for x in block)
        if energy < BLOCK * 200_000:  # quieter than about -38 dBFS: silence or noise floor
            return None
        rows = [_power(block, f) for f in ROWS]
        columns = [_power(block, f) for f in COLUMNS]
        row, column = max(range(4), key=rows.__getitem__), max(range(4), key=columns.__getitem__)
        others = sorted(rows)[-2], sorted(columns)[-2]
        share = 2 * (rows[row] + columns[column]) / (energy * BLOCK)
        if share < 0.5 or rows[row] < 6 * others[0] or columns[column] < 6 * others[1]:
            return None
        return KEYS[row][column]


@dataclass
class Agent:
    """The app: per-stream transcripts of the digits heard (``heard[streamId]``) and of the
    sentences heard (``said[streamId]``)."""

    answer: bool = True  # answer each digit and sentence with playAudio (bidirectional streams)
    heard: dict[str, str] = field(default_factory=dict)
    said: dict[str, list[str]] = field(default_factory=dict)

    async def handle(self, connection: ServerConnection) -> None:
        stream_id: str | None = None
        track: str | None = None
        detector = DtmfDetector()
        listener = SpeechDecoder()
        try:
            async for raw in connection:
                message = _json_object(raw)
                event = message.get("eventType") if message else None
                if message is None:
                    continue
                if event == "start":
                    stream_id, track = _stream_of(message)
                    detector, listener = DtmfDetector(), SpeechDecoder()
                    self.heard.setdefault(stream_id, "")
                    self.said.setdefault(stream_id, [])
                elif event == "media" and stream_id is not None and message.get("track") == track:
                    samples = array.array("h", [MULAW[b] for b in _audio(message.get("payload"))])
                    for digit in detector.feed(samples):
                        self.heard[stream_id] += digit
                        log.info("stream %s heard %s", stream_id, digit)
                        if self.answer:
                            await _reply(connection, play_audio(tone_pcmu(digit)))
                    for utterance in listener.feed(samples.tobytes()):
                        self.said[stream_id].append(utterance.text)
                        log.info("stream %s heard %r", stream_id, utterance.text)
                        if self.answer:
                            await _reply(connection, play_audio(speech_pcmu(f"you said {utterance.text}")))
                elif event == "stop":
                    break  # returning closes the socket normally (1000)
        except ConnectionClosed:
            pass  # the platform went away: nothing to clean up


async def _reply(connection: ServerConnection, message: str) -> None:
    """Send ``message`` unless the platform is already closing: its last frames and ``stop`` may
    still be waiting to be read, and a send now would wait for the connection to end first."""
    if connection.state is State.OPEN:
        await connection.send(message)


def _json_object(raw: str | bytes) -> dict[str, object] | None:
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _stream_of(start: dict[str, object]) -> tuple[str, str]:
    """The stream id (a stand-in when missing) and the track to listen to (the first announced)."""
    metadata = start.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    stream_id = metadata.get("streamId")
    tracks = metadata.get("tracks")
    first = tracks[0] if isinstance(tracks, list) and tracks else {}
    name = first.get("name") if isinstance(first, dict) else None
    return (stream_id if isinstance(stream_id, str) else "unnamed"), (
        name if isinstance(name, str) else "inbound"
    )


def _audio(payload: object) -> bytes:
    if not isinstance(payload, str) or len(payload) > MAX_FRAME * 4 // 3 + 4:
        return b""
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return b""


def play_audio(pcmu: bytes) -> str:
    media = {"contentType": "audio/pcmu", "payload": base64.b64encode(pcmu).decode("ascii")}
    return json.dumps({"eventType": "playAudio", "media": media})


async def start_agent(agent: Agent, host: str = "127.0.0.1", port: int = 0) -> Server:
    """Serve ``agent`` until the returned server is closed (64 KB per message at most)."""
    return await serve(agent.handle, host, port, max_size=1 << 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--listen-only", action="store_true", help="never send audio back")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)  # the agent's own lines only

    async def run() -> None:
        server = await start_agent(Agent(answer=not options.listen_only), options.host, options.port)
        port = server.sockets[0].getsockname()[1]
        print(f"stream agent listening on ws://{options.host}:{port}/", flush=True)
        await server.serve_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main()
