"""A voice app that misbehaves on purpose: one way of failing a webhook per path.

It is a raw asyncio HTTP/1.1 server on 127.0.0.1 (port 0) in its own thread, so it can do what a
well-behaved framework never would: reset a connection, stall before or inside a reply, stream a
body forever, write a reply in pieces and close, send invalid UTF-8 or far too much.  Every
request it receives is recorded (path, method, the JSON or query payload), so a test can count the
disconnect webhooks of each call.

Paths (each answers the same way to every request):

=====================  =============================================================  ==============
path                   what the app does                                               cause
=====================  =============================================================  ==============
``/hangup``            ``<Response><Hangup/></Response>`` with Content-Length          ``hangup``
``/pieces``            the same BXML in four pieces, no length, then closes             ``hangup``
``/chunked``           the same BXML in chunked encoding                                ``hangup``
``/refused``           (a port nobody listens on: see :meth:`FaultApp.refused_url`)     callback-error
``/reset``             reads the request and resets the connection                     callback-error
``/reset-mid``         sends the head and half the body, then resets                   callback-error
``/slow-head``         never answers                                                    callback-error
``/slow-body``         sends the head and a few bytes, then stalls                     callback-error
``/endless``           a chunked body that never ends (a chunk every 20 ms)             callback-error
``/flood``             a chunked body of 64 KB chunks, one a millisecond                callback-error
``/oversized``         announces a 2 MB body                                            callback-error
``/bad-utf8``          BXML with a byte that is not UTF-8                              invalid-bxml
``/html``              an HTML page with status 200                                     invalid-bxml
``/redirect``          302 to ``/hangup``                                               callback-error
``/missing``           404                                                              callback-error
``/broken``            500                                                              callback-error
``/bad-port``          BXML redirecting to a URL with port 70000                        callback-error
``/status``            204 (where disconnect webhooks go)                               -
=====================  =============================================================  ==============
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HANGUP = b"<Response><Hangup/></Response>"

#: The disconnect cause each fault path leads to when it answers a call's answer webhook.
EXPECTED_CAUSE = {
    "/hangup": "hangup",
    "/pieces": "hangup",
    "/chunked": "hangup",
    "/refused": "callback-error",
    "/reset": "callback-error",
    "/reset-mid": "callback-error",
    "/slow-head": "callback-error",
    "/slow-body": "callback-error",
    "/endless": "callback-error",
    "/flood": "callback-error",
    "/oversized": "callback-error",
    "/bad-utf8": "invalid-bxml",
    "/html": "invalid-bxml",
    "/redirect": "callback-error",
    "/missing": "callback-error",
    "/broken": "callback-error",
    "/bad-port": "callback-error",
}


#: The paths that never finish a reply: only the callback timeout ends their webhooks.
STALLING = frozenset({"/slow-head", "/slow-body", "/endless"})


def _head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0) instead of an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultApp:
    """The misbehaving app; use as a context manager (it stops its thread on exit)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._thread = threading.Thread(target=self._run, name="fault-app", daemon=True)
        self.port = 0

    def __enter__(self) -> FaultApp:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault app did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @staticmethod
    def refused_url() -> str:
        """A loopback URL on a port that was free a moment ago (so the connection is refused)."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}/refused"

    def close_connections(self) -> None:
        """Close every connection the app holds (idle keep-alive ones too); call between batches."""

        def cancel_all() -> None:
            for task in list(self._handlers):
                task.cancel()

        self._loop.call_soon_threadsafe(cancel_all)

    def received(self, path: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for p, _, payload in self.requests if path is None or p == path]

    def disconnects(self) -> Counter[str]:
        """How many disconnect webhooks arrived for each call id."""
        return Counter(str(p.get("callId")) for p in self.received() if p.get("eventType") == "disconnect")

    # -- the server ----------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        handlers = self._handlers

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                while await self._one(reader, writer):
                    pass
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass
            except asyncio.CancelledError:
                pass  # close_connections(): end normally (asyncio logs a handler that ends cancelled)
            finally:
                writer.close()
                handlers.discard(task)

        server = await asyncio.start_server(connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopping.wait()
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is done."""
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        length = 0
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = await reader.readexactly(length) if length else b""
        parts = urlsplit(target)
        payload: dict[str, Any] = dict(parse_qsl(parts.query)) if method == "GET" else {}
        if body:
            with contextlib.suppress(ValueError):
                payload = json.loads(body)
        with self._lock:
            self.requests.append((parts.path, method, payload))
        return await self._answer(parts.path, reader, writer)

    async def _answer(self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        xml = "Content-Type: application/xml"
        if path == "/hangup":
            writer.write(_head("200 OK", xml, f"Content-Length: {len(HANGUP)}") + HANGUP)
        elif path == "/pieces":
            writer.write(_head("200 OK", xml, "Connection: close"))
            for piece in (HANGUP[:5], HANGUP[5:12], HANGUP[12:20], HANGUP[20:]):
                await writer.drain()
                await asyncio.sleep(0.02)
                writer.write(piece)
            await writer.drain()
            return False
        elif path == "/chunked":
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (HANGUP[:9], HANGUP[9:]))
            writer.write(_head("200 OK", xml, "Transfer-Encoding: chunked") + chunks + b"0\r\n\r\n")
        elif path == "/reset":
            _reset(writer)
            return False
        elif path == "/reset-mid":
            writer.write(_head("200 OK", xml, f"Content-Length: {len(HANGUP)}") + HANGUP[:10])
            await writer.drain()
            await asyncio.sleep(0.05)
            _reset(writer)
            return False
        elif path == "/slow-head":
            await reader.read(1)  # nothing, until the client gives up and closes
            return False
        elif path == "/slow-body":
            writer.write(_head("200 OK", xml, f"Content-Length: {len(HANGUP)}") + HANGUP[:4])
            await writer.drain()
            await reader.read(1)
            return False
        elif path in ("/endless", "/flood"):
            writer.write(_head("200 OK", xml, "Transfer-Encoding: chunked"))
            chunk = b"<!-- -->" if path == "/endless" else b" " * 65536
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                await asyncio.sleep(0.02 if path == "/endless" else 0.001)
        elif path == "/oversized":
            writer.write(_head("200 OK", xml, f"Content-Length: {2 * 1024 * 1024}") + b" " * 1024)
        elif path == "/bad-utf8":
            text = b"<Response><SpeakSentence>caf\xe9</SpeakSentence><Hangup/></Response>"
            writer.write(_head("200 OK", xml, f"Content-Length: {len(text)}") + text)
        elif path == "/html":
            page = b"<html><body><h1>Welcome</h1></body></html>"
            writer.write(_head("200 OK", "Content-Type: text/html", f"Content-Length: {len(page)}") + page)
        elif path == "/redirect":
            writer.write(_head("302 Found", "Location: /hangup", "Content-Length: 0"))
        elif path == "/missing":
            writer.write(_head("404 Not Found", "Content-Length: 0"))
        elif path == "/broken":
            writer.write(_head("500 Internal Server Error", "Content-Length: 4") + b"boom")
        elif path == "/bad-port":
            text = b'<Response><Redirect redirectUrl="http://127.0.0.1:70000/next"/></Response>'
            writer.write(_head("200 OK", xml, f"Content-Length: {len(text)}") + text)
        else:
            writer.write(_head("204 No Content"))
        await writer.drain()
        return True


__all__ = ["EXPECTED_CAUSE", "HANGUP", "STALLING", "FaultApp"]
