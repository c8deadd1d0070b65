"""A websocket app for the stream tests: a ``websockets`` server on 127.0.0.1 (port 0) in a thread.

Each path behaves as a test scripted it (``record`` by default): record every message; ``echo``
answers every ``media`` frame with a ``playAudio`` of the same payload; ``garbage`` answers ``start``
with :data:`GARBAGE`; ``close`` closes (code 1000)
after ``close_after`` messages; ``stuck`` never reads.  ``reject`` answers the handshake 403.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

# What a confused or hostile agent might send back on a bidirectional stream.
GARBAGE: list[str | bytes] = [
    "not json",
    "[1, 2]",
    '{"eventType": "playAudio"}',
    '{"eventType": "playAudio", "media": {"contentType": "audio/pcmu", "payload": "@@not base64@@"}}',
    '{"eventType": "playAudio", "media": {"contentType": "audio/wav", "payload": "AAAA"}}',
    '{"eventType": "playAudio", "media": "AAAA"}',
    '{"eventType": "bogus"}',
    b"\x00\x01binary",
    '{"eventType": "playAudio", "media": {"contentType": "audio/pcmu", "payload": '
    + '"'
    + "A" * 400_000
    + '"}}',
]


@dataclass
class Connection:
    path: str
    headers: Headers
    messages: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each message
    closed: bool = False

    def events(self) -> list[str]:
        return [m.get("eventType", "?") for m in self.messages]

    def media(self, track: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("eventType") == "media" and m.get("track") == track]


class WebsocketApp:
    def __init__(self) -> None:
        self.behaviour: dict[str, str] = {}
        self.close_after: dict[str, int] = {}
        self.connections: list[Connection] = []
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(5)
        assert self._server is not None
        self.port: int = self._server.sockets[0].getsockname()[1]

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def _main(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await serve(
                self._handle, "127.0.0.1", 0, process_request=self._check, compression=None, close_timeout=0.5
            )
            ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def _check(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.behaviour.get(request.path) == "reject":
            return conn.respond(403, "no\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = ws.request.path
        record = Connection(path, ws.request.headers)
        self.connections.append(record)
        mode = self.behaviour.get(path, "record")
        if mode == "stuck":
            await ws.wait_closed()  # reads nothing: the library's buffers fill, then TCP's
            record.closed = True
            return
        try:
            async for text in ws:
                message = json.loads(text)
                record.messages.append(message)
                record.arrivals.append(time.monotonic())
                if mode == "garbage" and message.get("eventType") == "start":
                    for bad in GARBAGE:
                        await ws.send(bad)
                if mode == "echo" and message.get("eventType") == "media":
                    reply = {
                        "eventType": "playAudio",
                        "media": {"contentType": "audio/pcmu", "payload": message["payload"]},
                    }
                    await ws.send(json.dumps(reply))
                if mode == "close" and len(record.messages) >= self.close_after.get(path, 1):
                    await ws.close(1000, "bye")
                    break  # messages already on their way are not read
        finally:
            record.closed = True

    def on(self, path: str) -> list[Connection]:
        return [c for c in self.connections if c.path == path]

    def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            time.sleep(0.02)

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@pytest.fixture(name="ws_app")
def ws_app_fixture() -> Iterator[WebsocketApp]:
    """A websocket app for one test, closed after it."""
    app = WebsocketApp()
    try:
        yield app
    finally:
        app.close()
