"""The stream sink: a websocket server that records the media streams a target opens.

``with StreamSink() as sink:`` listens on 127.0.0.1, an ephemeral port, with its own event loop on a
background thread.  Each test takes a :class:`StreamScope` (path prefix ``/s/<name>-<id>/``, as the
webhook sink's scopes) and hands ``scope.url("agent")`` to ``<StartStream destination>``; sockets
opened elsewhere are refused at the handshake (404).  Every message of every socket is kept in a
:class:`StreamSession` with its arrival time and how the socket closed; :meth:`StreamScope.check`
fails on any stream that breaks the protocol (:mod:`conformance.streams.protocol`), and
:func:`check_stream_webhooks` holds a socket's life against the ``mediaStream*`` webhooks.

A scope may echo (bidirectional streams: each frame of the first announced track is sent back as
``playAudio``), refuse handshakes with a status, or close sockets itself after some messages.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from conformance.errors import ConfigurationError, ConformanceError
from conformance.streams.protocol import (
    StreamProblem,
    check_platform_stream,
    decode_payload,
    parse,
    play_audio,
    start_tracks,
)

SCOPE_ROOT = "/s/"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
#: Largest message the sink accepts (a frame of one second is 8 KB; a transcript is small).
MAX_MESSAGE_BYTES = 1 << 20


class StreamTimeout(ConformanceError, TimeoutError):
    """A wait on the stream sink gave up; the message says what the scope did see."""

    reason = "stream-timeout"


class StreamProblems(ConformanceError, AssertionError):
    """Streams arrived that break the protocol."""

    reason = "stream-problems"

    def __init__(self, message: str, problems: Iterable[StreamProblem]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


@dataclass
class StreamSession:
    """One websocket a target opened: the upgrade request, every message, how it closed.

    The sink's thread appends while a test reads: read through the properties, which copy under the
    sink's lock, or after :meth:`StreamScope.wait_closed`.
    """

    seq: int
    scope: str
    path: str
    rest: str  # the path after the scope prefix
    headers: dict[str, str]
    auth: tuple[str, str] | None
    opened_at: datetime
    messages: list[str | bytes] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each message
    sent: list[str] = field(default_factory=list)
    closed_at: datetime | None = None
    close_code: int | None = None
    closed_by: str | None = None  # "platform", "sink" or "abnormal" (no close frame)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def parsed(self) -> list[dict[str, Any]]:
        """The messages that are JSON objects, in order."""
        return [m for m in (parse(raw)[0] for raw in list(self.messages)) if m is not None]

    @property
    def start(self) -> dict[str, Any] | None:
        first = self.parsed()[:1]
        return first[0] if first and first[0].get("eventType") == "start" else None

    @property
    def metadata(self) -> dict[str, Any]:
        start = self.start or {}
        metadata = start.get("metadata")
        return metadata if isinstance(metadata, dict) else {}

    @property
    def tracks(self) -> tuple[str, ...]:
        return start_tracks(self.start or {})

    def events(self) -> list[str]:
        return [str(m.get("eventType")) for m in self.parsed()]

    def audio(self, track: str) -> bytes:
        """The PCMU bytes the stream carried for ``track``, frames joined in order."""
        out = bytearray()
        for message in self.parsed():
            if message.get("eventType") == "media" and message.get("track") == track:
                out += decode_payload(message.get("payload")) or b""
        return bytes(out)

    def transcripts(self) -> list[str]:
        """The final (not partial) transcripts of a transcription stream, in order."""
        return [
            str(m.get("transcript"))
            for m in self.parsed()
            if m.get("eventType") == "transcription" and not m.get("isPartial")
        ]

    def problems(self, expected_params: Mapping[str, str] | None = None) -> list[StreamProblem]:
        """What breaks the protocol in this socket (only once it has closed is a missing stop one)."""
        return check_platform_stream(
            list(self.messages),
            expected_params=expected_params,
            closed_by_platform=self.closed and self.closed_by != "sink",
        )

    def describe(self) -> str:
        state = f"closed by {self.closed_by} ({self.close_code})" if self.closed else "open"
        return f"#{self.seq} {self.path}: {len(self.messages)} message(s) {self.events()[:6]} ... {state}"


class StreamScope:
    """One test's corner of the stream sink: its prefix, its behaviour and the sockets it got."""

    def __init__(self, sink: StreamSink, key: str, name: str | None) -> None:
        self.sink = sink
        self.key = key
        self.name = name
        self.prefix = f"{SCOPE_ROOT}{key}/"
        self.echo = False
        self.refuse_status: int | None = None
        self.close_after: int | None = None
        self._sessions: list[StreamSession] = []

    def __repr__(self) -> str:
        return f"<StreamScope {self.prefix} sessions={len(self._sessions)}>"

    def url(self, path: str = "") -> str:
        """The ``ws://`` URL to put in ``<StartStream destination>``."""
        return self.sink.base_url + self.prefix + path.lstrip("/")

    def set_echo(self, echo: bool = True) -> Self:
        """Send each frame of the first announced track back as ``playAudio`` (bidirectional)."""
        self.echo = echo
        return self

    def refuse(self, status: int = 403) -> Self:
        """Refuse every handshake with HTTP ``status`` (a destination that rejects the stream)."""
        self.refuse_status = status
        return self

    def close_after_messages(self, count: int) -> Self:
        """Close each socket (code 1000) once it has carried ``count`` messages (the app hangs up)."""
        self.close_after = count
        return self

    @property
    def sessions(self) -> list[StreamSession]:
        with self.sink.lock:
            return list(self._sessions)

    def wait_for_sessions(self, count: int = 1, timeout: float = 10.0) -> list[StreamSession]:
        """Block until ``count`` sockets have opened on this scope."""
        return self._wait(lambda: len(self._sessions) >= count, timeout, f"{count} socket(s) opened")

    def wait_closed(self, count: int = 1, timeout: float = 20.0) -> list[StreamSession]:
        """Block until ``count`` sockets have opened and every socket of the scope has closed."""
        return self._wait(
            lambda: len(self._sessions) >= count and all(s.closed for s in self._sessions),
            timeout,
            f"{count} socket(s) opened and closed",
        )

    def wait_until(
        self, predicate: Callable[[list[StreamSession]], bool], timeout: float, what: str
    ) -> list[StreamSession]:
        """Block until ``predicate(sessions)`` holds (called under the sink's lock)."""
        return self._wait(lambda: predicate(self._sessions), timeout, what)

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> list[StreamSession]:
        deadline = time.monotonic() + timeout
        with self.sink.condition:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n".join(f"  {s.describe()}" for s in self._sessions) or "  nothing"
                    raise StreamTimeout(f"waited {timeout:g} s for {what} on {self.prefix}; saw:\n{seen}")
                self.sink.condition.wait(left)
            return list(self._sessions)

    def problems(self, expected_params: Mapping[str, str] | None = None) -> list[StreamProblem]:
        found: list[StreamProblem] = []
        for session in self.sessions:
            for problem in session.problems(expected_params):
                found.append(StreamProblem(problem.reason, problem.index, f"#{session.seq}: {problem}"))
        return found

    def check(self, expected_params: Mapping[str, str] | None = None) -> None:
        """Fail (:class:`StreamProblems`) on any socket of this scope that breaks the protocol."""
        found = self.problems(expected_params)
        if found:
            text = "\n".join(f"  - {p}" for p in found)
            raise StreamProblems(f"{len(found)} stream protocol problem(s) on {self.prefix}:\n{text}", found)


class StreamSink:
    """A websocket server for many scopes on one port, on its own thread; usable without pytest."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, public_base_url: str | None = None) -> None:
        if public_base_url is not None and not re.match(r"^wss?://[^/\s]+(/\S*)?$", public_base_url):
            raise ConfigurationError(
                f"public_base_url must be a ws(s) URL, not {public_base_url!r}", reason="bad-stream-url"
            )
        self.host = host
        self.port = port
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.lock = threading.RLock()
        self.condition = threading.Condition(self.lock)
        self._scopes: dict[str, StreamScope] = {}
        self._sessions: list[StreamSession] = []
        self._errors: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise ConfigurationError("the stream sink is already running", reason="sink-running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def open_server() -> None:
            try:
                self._server = await serve(
                    self._handle,
                    self.host,
                    self.port,
                    process_request=self._process_request,
                    max_size=MAX_MESSAGE_BYTES,
                    ping_interval=None,
                )
            except OSError as exc:
                failure.append(exc)
            finally:
                ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            opening = loop.create_task(open_server())
            loop.run_forever()
            opening.cancel()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="bw-stream-sink", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self.stop()
            raise ConfigurationError(
                f"the stream sink cannot listen on {self.host}:{self.port}", reason="cannot-listen"
            ) from failure[0]
        assert self._server is not None
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        if self._server is not None:
            asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = self._server = None

    def is_running(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses, scopes, records --------------------------------------------------------------
    @property
    def local_url(self) -> str:
        if not self.is_running():
            raise ConfigurationError("the stream sink has no port until it starts", reason="sink-not-started")
        return f"ws://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.public_base_url or self.local_url

    def scope(self, name: str | None = None) -> StreamScope:
        tag = _NAME_UNSAFE.sub("-", name).strip("-.")[:40] if name else ""
        key = f"{tag}-{uuid.uuid4().hex[:10]}" if tag else uuid.uuid4().hex[:12]
        scope = StreamScope(self, key, name)
        with self.lock:
            self._scopes[key] = scope
        return scope

    @property
    def sessions(self) -> list[StreamSession]:
        with self.lock:
            return list(self._sessions)

    def check(self) -> None:
        """Re-raise the first error met on the sink's thread."""
        with self.lock:
            errors = list(self._errors)
        if errors:
            raise errors[0]

    # -- the sink's thread -----------------------------------------------------------------------
    def _route(self, path: str) -> tuple[StreamScope | None, str]:
        if path.startswith(SCOPE_ROOT):
            key, _, rest = path[len(SCOPE_ROOT) :].partition("/")
            with self.lock:
                scope = self._scopes.get(key)
            if scope is not None:
                return scope, rest.partition("?")[0]
        return None, path

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        scope, _ = self._route(request.path)
        if scope is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "no stream scope at this path\n")
        if scope.refuse_status is not None:
            return connection.respond(HTTPStatus(scope.refuse_status), "refused by the test\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        scope, rest = self._route(request.path)
        if scope is None:  # the scope was dropped between handshake and here
            await connection.close(1008)
            return
        headers = {k: v for k, v in request.headers.raw_items()}
        with self.condition:
            session = StreamSession(
                seq=len(self._sessions) + 1,
                scope=scope.key,
                path=request.path,
                rest=rest,
                headers=headers,
                auth=_basic_auth(request.headers.get("Authorization")),
                opened_at=datetime.now(UTC),
            )
            self._sessions.append(session)
            scope._sessions.append(session)
            self.condition.notify_all()
        echo_track: str | None = None
        try:
            async for message in connection:
                with self.condition:
                    session.messages.append(message)
                    session.arrivals.append(time.monotonic())
                    self.condition.notify_all()
                if scope.echo:
                    echo_track = await self._echo(connection, session, message, echo_track)
                if scope.close_after is not None and len(session.messages) >= scope.close_after:
                    await connection.close(1000, "the test closes the stream")
                    break
        except ConnectionClosed:
            pass
        except Exception as exc:  # a bug of the sink: re-raised by check()
            with self.lock:
                self._errors.append(exc)
        finally:
            await connection.wait_closed()
            protocol = connection.protocol
            if protocol.close_rcvd is None:
                closed_by = "abnormal"
            elif protocol.close_sent is not None and not protocol.close_rcvd_then_sent:
                closed_by = "sink"
            else:
                closed_by = "platform"
            with self.condition:
                session.close_code = connection.close_code
                session.closed_by = closed_by
                session.closed_at = datetime.now(UTC)
                self.condition.notify_all()

    async def _echo(
        self, connection: ServerConnection, session: StreamSession, raw: str | bytes, track: str | None
    ) -> str | None:
        message, _ = parse(raw)
        if message is None:
            return track
        if message.get("eventType") == "start":
            tracks = start_tracks(message)
            return tracks[0] if tracks else None
        if message.get("eventType") == "media" and message.get("track") == track:
            data = decode_payload(message.get("payload"))
            if data:
                if connection.state is not State.OPEN:
                    # The platform is closing: its close frame arrived behind messages not read yet
                    # (its last frames and ``stop``).  Sending now would wait for the connection to
                    # end while those stay unread, so the echo ends here and the reading goes on.
                    return None
                reply = play_audio(data)
                await connection.send(reply)
                with self.lock:
                    session.sent.append(reply)
        return track


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return user, password


# -------------------------------------------------------------------------- webhooks vs. sockets
def check_stream_webhooks(session: StreamSession | None, webhooks: Sequence[Any]) -> list[str]:
    """What disagrees between one stream's socket and its ``mediaStream*`` webhooks (sink records
    with ``event_type`` and ``payload``): started once the socket carried ``start`` and naming its
    stream id and name; stopped after it, naming the same stream; rejected only when no socket
    carried a ``start``."""
    found: list[str] = []

    def of(event: str) -> list[dict[str, Any]]:
        return [dict(w.payload or {}) for w in webhooks if w.event_type == event]

    started, stopped, rejected = of("mediaStreamStarted"), of("mediaStreamStopped"), of("mediaStreamRejected")
    if session is None or session.start is None:
        if started:
            found.append("mediaStreamStarted was sent but no socket carried a start message")
        if not rejected:
            found.append("no socket carried a start message, and no mediaStreamRejected was sent")
        return found
    if rejected:
        found.append("mediaStreamRejected was sent for a stream whose socket carried start")
    metadata = session.metadata
    for name, payloads in (("mediaStreamStarted", started), ("mediaStreamStopped", stopped)):
        if len(payloads) != 1:
            found.append(f"{len(payloads)} {name} webhook(s) for one stream, not 1")
            continue
        stream = payloads[0].get("mediaStream")
        stream = stream if isinstance(stream, dict) else {}
        if stream.get("id") != metadata.get("streamId"):
            found.append(
                f"{name}.mediaStream.id {stream.get('id')!r} is not start's {metadata.get('streamId')!r}"
            )
        if stream.get("name") != metadata.get("streamName"):
            given = metadata.get("streamName")
            found.append(f"{name}.mediaStream.name {stream.get('name')!r} is not start's {given!r}")
        if payloads[0].get("callId") != metadata.get("callId"):
            found.append(f"{name}.callId is not start's callId")
    if stopped and not session.closed:
        found.append("mediaStreamStopped was sent while the socket is still open")
    return found


__all__ = [
    "MAX_MESSAGE_BYTES",
    "SCOPE_ROOT",
    "StreamProblems",
    "StreamScope",
    "StreamSession",
    "StreamSink",
    "StreamTimeout",
    "check_stream_webhooks",
]
