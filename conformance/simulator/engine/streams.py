"""Media streams and real-time transcriptions over real websockets.

``<StartStream>`` opens a websocket to the app (library ``websockets``, asyncio client) and sends
``start``, then ``media`` frames of the call's real audio, then ``stop``; ``<StartTranscription
destination=...>`` sends ``start``, ``transcription`` and ``stop``.  In bidirectional mode the
audio the app sends back (``playAudio``) is played into the call and ``clear`` drops what is still
queued; DTMF tones and the speech stand-in (:mod:`conformance.speech`) in it reach the other
party's gathers and transcriptions as key presses and words.  That audio goes through a playout
(jitter) buffer, as on a real media server: what arrives while nothing is playing starts
:data:`PLAYOUT_DELAY` later, and from then on plays without a gap as long as the app keeps the
buffer filled.  A late tick of the simulator's own loop (a busy machine) or a late reply of the app
therefore no longer cuts a tone or a sentence in two; a gap longer than the buffer still does.
The choices the docs leave open are listed in ``openapi/NOTES.md`` ("Media streams over
websockets").

Time: frames are 20 ms of audio (160 PCMU bytes) per track, sent as the simulator's clock passes
each frame's end.  While any stream is open a virtual clock runs at real time (``time_scale``
1.0), so frames are paced as on a real call; it leaps again once the last stream is closed.  A
clock that already runs scaled keeps its scale (frames then come that much faster).

A slow or stuck app never holds anybody else: every socket has a bounded queue of outgoing
messages and its own writer task; frames that find it full are skipped, and a queue that stays
full with nothing written for :data:`STALL_SECONDS` stops the stream with cause ``error``.
Opening a socket holds the virtual clock at most :data:`HOLD_SECONDS` (as a PlayAudio fetch does),
and gives up after :data:`OPEN_TIMEOUT` real seconds.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from conformance import pcmu, speech
from conformance.simulator.clock import VirtualClock
from conformance.simulator.engine.media import RATE, Sound, render
from conformance.simulator.engine.tones import DtmfDetector

if TYPE_CHECKING:
    from conformance.simulator.engine.leg import Leg

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.02
FRAME_BYTES = round(RATE * FRAME_SECONDS)  # 160 PCMU bytes: 20 ms at 8 kHz
OPEN_TIMEOUT = 5.0  # real seconds for the TCP connection and the websocket handshake
HOLD_SECONDS = 1.0  # real seconds an opening socket keeps the virtual clock still
CLOSE_TIMEOUT = 2.0  # real seconds for the last messages and the closing handshake
MAX_BACKLOG = 250  # outgoing messages queued per socket (5 s of one track's frames)
MAX_MESSAGE_BYTES = 1 << 20  # the largest message accepted from an app
MAX_PLAYBACK_SECONDS = 300.0  # bidirectional audio queued to play, at most
PLAYOUT_DELAY = 0.2  # clock seconds the app's audio waits, from a silent start, before it plays
MAX_CATCH_UP_FRAMES = 500  # frames sent at once after the event loop stalled (10 s per track)
STALL_SECONDS = 5.0  # real seconds a full outgoing queue may go without one message written
MEDIA_FORMAT = {"encoding": "audio/PCMU", "sampleRate": RATE}


class StreamFailed(Exception):
    """A websocket could not be opened or stopped working; ``cause`` is the webhook's cause."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message


# ------------------------------------------------------------------------------ real time


@dataclass
class _RealTime:
    users: int = 0
    switched: bool = False
    streams: set[MediaStream] = field(default_factory=set)  # advanced by one ticker per clock
    ticker: asyncio.Task[Any] | None = None


_REAL_TIME: weakref.WeakKeyDictionary[VirtualClock, _RealTime] = weakref.WeakKeyDictionary()


def hold_real_time(clock: VirtualClock) -> None:
    """One more open stream (or real-time lease, see the control API): a leaping clock runs at real
    time from now on (also when it was made virtual again while others held it)."""
    state = _REAL_TIME.setdefault(clock, _RealTime())
    state.users += 1
    if clock.virtual:
        clock.time_scale = 1.0
        state.switched = True


def _tick(clock: VirtualClock, stream: MediaStream, spawn: Callable[..., asyncio.Task[Any]]) -> None:
    """Have ``stream`` advanced every 20 ms by its clock's one ticker (one timer for all streams)."""
    state = _REAL_TIME.setdefault(clock, _RealTime())
    state.streams.add(stream)
    if state.ticker is None or state.ticker.done():
        state.ticker = spawn(_ticker(clock, state), name="media-ticker")


def _untick(clock: VirtualClock, stream: MediaStream) -> None:
    state = _REAL_TIME.get(clock)
    if state is not None:
        state.streams.discard(stream)


async def _ticker(clock: VirtualClock, state: _RealTime) -> None:
    while state.streams:
        # Ticks on a fixed 20 ms grid of the clock, so a late tick does not delay the next ones.
        await clock.sleep(FRAME_SECONDS - clock.time() % FRAME_SECONDS)
        now = clock.time()
        for stream in list(state.streams):
            try:
                stream.advance(now)
            except Exception as exc:  # one stream's fault never stops the others
                stream.leg.engine.fault(f"stream {stream.info['id']}", exc)
                stream.fail("error", "the simulator failed to send this stream")
    state.ticker = None


def release_real_time(clock: VirtualClock) -> None:
    """One stream fewer: after the last one a clock this module slowed down leaps again."""
    state = _REAL_TIME.get(clock)
    if state is None or state.users == 0:
        return
    state.users -= 1
    if state.users == 0 and state.switched:
        state.switched = False
        if clock.time_scale == 1.0:
            clock.time_scale = None


# ------------------------------------------------------------------------------ sockets


def _basic(username: str | None, password: str | None) -> dict[str, str]:
    if not username and not password:
        return {}
    token = base64.b64encode(f"{username or ''}:{password or ''}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


class Socket:
    """One websocket to an app: a bounded outgoing queue with its writer, and a reader.

    ``on_message`` gets every text message the app sends; ``on_lost`` is called once if the
    connection ends other than by :meth:`finish` (the app closed it, or it broke).
    """

    def __init__(
        self,
        ws: ClientConnection,
        spawn: Callable[..., asyncio.Task[Any]],
        on_message: Callable[[str], None],
        on_lost: Callable[[StreamFailed], None],
    ) -> None:
        self.ws = ws
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(MAX_BACKLOG)
        self._spawn = spawn
        self._on_message = on_message
        self._on_lost = on_lost
        self._finishing = False
        self.sent = 0
        self.progress = asyncio.get_running_loop().time()  # when the writer last sent a message
        self.ignored = 0  # messages from the app that were not understood
        self._writer = spawn(self._write(), name="ws-writer")
        self._reader = spawn(self._read(), name="ws-reader")

    def send(self, message: dict[str, Any]) -> bool:
        """Queue ``message``; ``False`` when the app has not read the last :data:`MAX_BACKLOG`."""
        return self.send_text(json.dumps(message, separators=(",", ":")))

    def room(self) -> int:
        """How many more messages the outgoing queue takes now."""
        return MAX_BACKLOG - self._queue.qsize()

    def send_text(self, text: str) -> bool:
        """Queue a message already in JSON."""
        if self._finishing:
            return True
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def _write(self) -> None:
        try:
            while (text := await self._queue.get()) is not None:
                await self._send(text)
                while not self._queue.empty():  # what else is queued, without waking up again
                    if (text := self._queue.get_nowait()) is None:
                        return
                    await self._send(text)
        except (ConnectionClosed, OSError):
            pass  # the reader reports how the connection ended

    async def _send(self, text: str) -> None:
        await self.ws.send(text)
        self.sent += 1
        self.progress = asyncio.get_running_loop().time()

    def stalled(self) -> bool:
        """The queue is full and nothing of it was written for :data:`STALL_SECONDS`."""
        if self.room() > 0:
            return False
        return asyncio.get_running_loop().time() - self.progress > STALL_SECONDS

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, str):
                    self._on_message(message)
                else:
                    self.ignored += 1
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:  # the simulator is shutting down: no socket is left open
            self._finishing = True
            self.ws.transport.abort()
            raise
        except Exception as exc:  # a broken transport: reported like a close
            log.debug("websocket reader ended: %r", exc)
        if not self._finishing:
            self._finishing = True
            code = self.ws.close_code
            reason = self.ws.close_reason or ""
            self._writer.cancel()
            if code in (1000, 1001):
                self._on_lost(
                    StreamFailed("closed", f"the app closed the websocket ({code} {reason})".strip())
                )
            else:
                text = f"the websocket ended with code {code}" + (f": {reason}" if reason else "")
                self._on_lost(StreamFailed("connection-error", text))

    def finish(self, last: dict[str, Any] | None) -> asyncio.Task[Any] | None:
        """Send ``last`` after whatever is queued, then close; bounded by :data:`CLOSE_TIMEOUT`."""
        if self._finishing:
            return None
        self._finishing = True
        # ``last`` (the ``stop``) and the end marker always fit: the oldest queued frames make room.
        while self._queue.qsize() > MAX_BACKLOG - 2:
            self._queue.get_nowait()
        if last is not None:
            self._queue.put_nowait(json.dumps(last, separators=(",", ":")))
        self._queue.put_nowait(None)
        return self._spawn(self._close(), name="ws-close")

    def abort(self) -> None:
        self._finishing = True
        for task in (self._writer, self._reader):
            task.cancel()
        self.ws.transport.abort()

    async def _close(self) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.wait({self._writer})  # what is queued, then `stop`, goes first
                await self.ws.close()
        except (TimeoutError, ConnectionClosed, OSError):
            pass
        finally:
            self._writer.cancel()
            self._reader.cancel()
            self.ws.transport.abort()


async def open_socket(
    leg: Leg,
    url: str,
    username: str | None,
    password: str | None,
    on_message: Callable[[str], None],
    on_lost: Callable[[StreamFailed], None],
) -> Socket:
    """Open a websocket to ``url`` as the platform would; :class:`StreamFailed` otherwise.

    The virtual clock stays still for at most :data:`HOLD_SECONDS` of the opening, so a quick app
    sees its stream start at the very instant of the verb; a slow one holds only its own call.
    """
    egress = leg.engine.deliverer.egress
    if not url.lower().startswith(("ws://", "wss://")):
        raise StreamFailed("connection-error", f"{url!r} is not a ws:// or wss:// URL")
    if not egress.allows(url):
        try:
            refusal = egress.refusal(url)
        except ValueError:
            refusal = f"the simulator cannot open {url!r}"
        raise StreamFailed("connection-error", refusal)

    async def opening() -> ClientConnection:
        return await connect(
            url,
            additional_headers=_basic(username, password),
            user_agent_header="BandwidthAPI/v2 (conformance simulator)",
            proxy=None,
            compression=None,
            open_timeout=OPEN_TIMEOUT,
            close_timeout=CLOSE_TIMEOUT,
            ping_interval=None,
            max_size=MAX_MESSAGE_BYTES,
            max_queue=64,
        )

    task = asyncio.ensure_future(opening())
    try:
        with leg.clock.busy():
            await asyncio.wait({task}, timeout=HOLD_SECONDS)
        ws = await task
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(BaseException):
            (await task).transport.abort()
        raise
    except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
        raise StreamFailed("connection-error", f"cannot open {url}: {exc or type(exc).__name__}") from None
    return Socket(ws, leg.engine.spawn, on_message, on_lost)


# ------------------------------------------------------------------------------ media streams


@dataclass
class _Track:
    name: str
    sounds: list[Sound]
    seen: int = 0  # sounds of the timeline already looked at
    active: list[Sound] = field(default_factory=list)

    def window(self, begin: float, end: float) -> list[Sound]:
        """The sounds that may be audible during ``[begin, end)`` (kept incrementally)."""
        if self.seen < len(self.sounds):
            self.active.extend(self.sounds[self.seen :])
            self.seen = len(self.sounds)
        self.active = [s for s in self.active if s.end > begin]
        return [s for s in self.active if s.start < end]


_SILENT_PAYLOAD = base64.b64encode(bytes([pcmu.SILENCE]) * FRAME_BYTES).decode("ascii")


class MediaStream:
    """One ``<StartStream>`` between its websocket opening and its ``stop``."""

    def __init__(self, leg: Leg, info: dict[str, Any], params: dict[str, str], bidirectional: bool) -> None:
        self.leg = leg
        self.info = info
        self.params = params
        self.bidirectional = bidirectional
        self.socket: Socket | None = None
        self.position = leg.clock.time()
        self.tracks = [_Track(t, leg.heard if t == "inbound" else leg.played) for t in info["tracks"]]
        self.playback = bytearray()  # PCMU bytes the app sent, not played yet
        # When the queued audio starts (or started) playing; None while nothing is queued: the
        # playout buffer waits from the first audio it gets, and again once it has run dry.
        self.playable_at: float | None = None
        self.detector = DtmfDetector()  # key presses in what the app plays
        self.speech = speech.SpeechDecoder()  # and the speech stand-in's words
        self.on_end: Callable[[MediaStream, str, str | None], None] | None = None
        self.done = False
        self.frames = 0

    def metadata(self) -> dict[str, Any]:
        return {
            "accountId": self.leg.call.account_id,
            "callId": self.leg.id,
            "streamId": self.info["id"],
            "streamName": self.info["name"],
            "tracks": [{"name": t, "mediaFormat": dict(MEDIA_FORMAT)} for t in self.info["tracks"]],
        }

    async def open(self, url: str, username: str | None, password: str | None) -> None:
        self.socket = await open_socket(self.leg, url, username, password, self._message, self._lost)
        self.position = self.leg.clock.time()
        self.socket.send({"eventType": "start", "metadata": self.metadata(), "streamParams": self.params})
        hold_real_time(self.leg.clock)
        _tick(self.leg.clock, self, self.leg.engine.spawn)

    # -- sending the call's audio -------------------------------------------------------------

    def advance(self, now: float, *, last: bool = False) -> None:
        """Send every whole frame that ended by ``now``.

        What the outgoing queue has no room for is skipped (after a stall of the simulator's own
        loop, or while the app reads slowly), never counted against the app; the stream fails with
        cause ``error`` only when the queue stays full without one message written for
        :data:`STALL_SECONDS`.  ``last`` (the stream is ending): never fails, ``stop`` follows.
        """
        due = int((now - self.position) / FRAME_SECONDS + 1e-6)
        if due <= 0 or self.socket is None:
            return
        if not last and self.socket.stalled():
            waited = f"the app read nothing for {STALL_SECONDS:g} s while {MAX_BACKLOG} messages waited"
            self.fail("error", waited)
            return
        # Frames of all tracks go in step, at most what the queue takes now.
        count = min(due, MAX_CATCH_UP_FRAMES, self.socket.room() // len(self.tracks))
        begin = self.position
        for index in range(count):
            self._play_back(begin + index * FRAME_SECONDS)
        end = begin + count * FRAME_SECONDS
        self.position = end if count == due else now  # what did not fit is skipped
        if count == 0:
            return
        payloads = {track.name: self._frames(track, begin, end, count) for track in self.tracks}
        for index in range(count):
            for name, frames in payloads.items():
                self.socket.send_text(f'{{"eventType":"media","track":"{name}","payload":"{frames[index]}"}}')
        self.frames += count

    def _frames(self, track: _Track, begin: float, end: float, count: int) -> list[str]:
        sounds = track.window(begin, end)
        if not sounds:
            return [_SILENT_PAYLOAD] * count
        data = pcmu.encode(render([(begin, end)], sounds).tobytes())
        data = data.ljust(count * FRAME_BYTES, bytes([pcmu.SILENCE]))
        return [
            base64.b64encode(data[i * FRAME_BYTES : (i + 1) * FRAME_BYTES]).decode("ascii")
            for i in range(count)
        ]

    def _play_back(self, start: float) -> None:
        """Play the next 20 ms of what the app sent into the call (bidirectional mode)."""
        playing = self.playable_at is not None and start + 1e-6 >= self.playable_at  # (times are sums)
        if not playing or not self.playback:
            if playing:  # ran dry: the next audio waits for the buffer again
                self.playable_at = None
            self.detector.feed(b"")
            self.speech.skip(FRAME_BYTES)
            return
        chunk = bytes(self.playback[:FRAME_BYTES])
        del self.playback[:FRAME_BYTES]
        pcm = pcmu.decode(chunk)
        self.leg.send(Sound(start, len(chunk) / RATE, "audio", f"stream:{self.info['name']}", pcm))
        digit = self.detector.feed(pcm)
        if digit is not None:  # the party's DTMF gathers get the key the app's audio pressed
            self.leg.send(Sound(start, FRAME_SECONDS, "dtmf", digit))
        # the speech stand-in the app played: the party's speech gathers and transcriptions get
        # its words, as if the party had been spoken a SpeakSentence (placed where it was heard)
        frame_end = start + FRAME_SECONDS
        for heard in self.speech.feed(pcm.ljust(2 * FRAME_BYTES, b"\0")):
            begin = frame_end - (self.speech.position - heard.start) / RATE
            self.leg.send(Sound(begin, (heard.end - heard.start) / RATE, "speech", heard.text))

    # -- what the app sends -------------------------------------------------------------------

    def _message(self, text: str) -> None:
        if self.socket is None:
            return
        try:
            message = json.loads(text)
        except ValueError:
            self.socket.ignored += 1
            return
        event = message.get("eventType") if isinstance(message, dict) else None
        if not self.bidirectional or event not in ("playAudio", "clear"):
            self.socket.ignored += 1
            return
        if event == "clear":
            self.playback.clear()
            self.playable_at = None
            return
        media = message.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        kind = str(media.get("contentType", "audio/pcmu")).lower() if isinstance(media, dict) else ""
        if not isinstance(payload, str) or kind != "audio/pcmu":
            self.socket.ignored += 1
            return
        room = int(MAX_PLAYBACK_SECONDS * RATE) - len(self.playback)
        if room <= 0:  # the queue is full: dropped without decoding it
            self.socket.ignored += 1
            return
        try:
            audio = base64.b64decode(payload[: 4 * (room // 3 + 1)], validate=True)
        except (binascii.Error, ValueError):
            self.socket.ignored += 1
            return
        if audio and self.playable_at is None:
            self.playable_at = self.leg.clock.time() + PLAYOUT_DELAY
        self.playback.extend(audio[:room])

    def _lost(self, failure: StreamFailed) -> None:
        self._end(failure.cause, failure.message, closing=False)

    # -- the end ------------------------------------------------------------------------------

    def stop(self, cause: str = "closed", message: str | None = None) -> None:
        """``<StopStream>`` or the call's end: the last frames, ``stop``, then the close."""
        if not self.done and self.socket is not None:
            self.advance(self.leg.clock.time(), last=True)
        self._end(cause, message, closing=True)

    def fail(self, cause: str, message: str) -> None:
        self._end(cause, message, closing=False)
        if self.socket is not None:
            self.socket.abort()

    def _end(self, cause: str, message: str | None, *, closing: bool) -> None:
        if self.done:
            return
        self.done = True
        _untick(self.leg.clock, self)
        release_real_time(self.leg.clock)
        if closing and self.socket is not None:
            self.socket.finish({"eventType": "stop", "metadata": self.metadata()})
        if self.on_end is not None:
            self.on_end(self, cause, message)


# ------------------------------------------------------------------------------ transcriptions


class TranscriptionFeed:
    """A real-time transcription's websocket: ``start``, a ``transcription`` per utterance, ``stop``.

    An utterance is sent once it is over, as a final (``isPartial: false``) result; its text is
    what the simulator's speech model carries (the words of a SpeakSentence or of the party).
    """

    def __init__(self, leg: Leg, info: dict[str, Any], params: dict[str, str]) -> None:
        self.leg = leg
        self.info = info
        self.params = params
        self.socket: Socket | None = None
        self.on_end: Callable[[TranscriptionFeed, str, str | None], None] | None = None
        self.done = False
        self.sent = 0
        self.origin = leg.clock.time()

    def metadata(self) -> dict[str, Any]:
        return {
            "accountId": self.leg.call.account_id,
            "callId": self.leg.id,
            "realTimeTranscriptionId": self.info["id"],
            "transcriptionName": self.info["name"],
            "tracks": list(self.info["tracks"]),
            "stabilized": self.info.get("stabilized", True),
        }

    async def open(self, url: str, username: str | None, password: str | None) -> None:
        self.socket = await open_socket(self.leg, url, username, password, self._ignore, self._lost)
        self.socket.send({"eventType": "start", "metadata": self.metadata(), "customParams": self.params})
        self.leg.media_taps.append(self._tap)

    def _ignore(self, text: str) -> None:
        if self.socket is not None:
            self.socket.ignored += 1

    def _tap(self, track: str, sound: Sound) -> None:
        if sound.kind == "speech" and track in self.info["tracks"] and not self.done:
            self.leg.spawn(self._after(track, sound), name=f"rtt-{self.info['id']}")

    async def _after(self, track: str, sound: Sound) -> None:
        await self.leg.clock.sleep(sound.end - self.leg.clock.time())
        if self.done or self.socket is None:
            return
        self.sent += 1
        if not self.socket.send(transcription_message(track, sound, self.origin)):
            self._end("error", f"the app read none of the last {MAX_BACKLOG} messages", closing=False)

    def _lost(self, failure: StreamFailed) -> None:
        self._end(failure.cause, failure.message, closing=False)

    def stop(self, cause: str = "closed", message: str | None = None) -> None:
        self._end(cause, message, closing=True)

    def fail(self, cause: str, message: str) -> None:
        self._end(cause, message, closing=False)

    def _end(self, cause: str, message: str | None, *, closing: bool) -> None:
        if self.done:
            return
        self.done = True
        with contextlib.suppress(ValueError):
            self.leg.media_taps.remove(self._tap)
        if self.socket is not None:
            if closing:
                self.socket.finish({"eventType": "stop", "metadata": self.metadata()})
            else:
                self.socket.abort()
        if self.on_end is not None:
            self.on_end(self, cause, message)


def transcription_message(track: str, sound: Sound, origin: float) -> dict[str, Any]:
    """A final transcription result for one utterance; times in seconds from ``origin`` (when
    the transcription started)."""
    start, end = round(sound.start - origin, 3), round(sound.end - origin, 3)
    words = sound.data.split()
    step = (end - start) / max(1, len(words))
    items = [
        {
            "content": word,
            "startTime": round(start + i * step, 3),
            "endTime": round(start + (i + 1) * step, 3),
            "confidence": 0.9,
            "stable": True,
            "type": "PRONUNCIATION",
        }
        for i, word in enumerate(words)
    ]
    return {
        "eventType": "transcription",
        "track": track,
        "startTime": start,
        "endTime": end,
        "isPartial": False,
        "language": "en-US",
        "transcript": sound.data,
        "items": items,
    }


__all__ = [
    "FRAME_BYTES",
    "FRAME_SECONDS",
    "MAX_BACKLOG",
    "MediaStream",
    "Socket",
    "StreamFailed",
    "TranscriptionFeed",
    "hold_real_time",
    "open_socket",
    "release_real_time",
    "transcription_message",
]
