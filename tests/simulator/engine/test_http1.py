"""The engine's small HTTP/1.1 client against a raw local server: framing, keep-alive, errors."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import pytest

from conformance.simulator.engine.http1 import Broken, ConnectFailed, Http1Pool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    length = 0
    for line in head.split("\r\n"):
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    return head, await reader.readexactly(length)


def test_content_length_chunked_and_close_delimited_bodies() -> None:
    seen: list[str] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head, body = await _read_request(reader)
            except asyncio.IncompleteReadError:
                break
            seen.append(head.split("\r\n")[0] + " " + body.decode())
            path = head.split(" ")[1]
            if path == "/chunked":
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                )
            elif path == "/close":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
                await writer.drain()
                writer.close()
                return
            else:
                writer.write(
                    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
                )
            await writer.drain()

    async def main() -> list[tuple[int, bytes]]:
        server, base = await _serve(handler)
        pool = Http1Pool()
        out = []
        for path in ("/plain", "/chunked", "/close", "/plain?x=1"):
            response = await pool.request("POST", base + path, {"X-Test": "1"}, b"body", 5)
            out.append((response.status, response.body))
        await pool.aclose()
        server.close()
        return out

    results = asyncio.run(main())
    assert results == [(201, b"ok"), (200, b"abcde"), (200, b"until the end"), (201, b"ok")]
    assert seen[0] == "POST /plain HTTP/1.1 body"
    assert seen[-1] == "POST /plain?x=1 HTTP/1.1 body"


def test_a_stale_keep_alive_connection_is_replaced_once() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()  # closes without saying Connection: close

    async def main() -> list[int]:
        server, base = await _serve(handler)
        pool = Http1Pool()
        statuses = []
        for _ in range(3):
            statuses.append((await pool.request("GET", base + "/", {}, b"", 5)).status)
            await asyncio.sleep(0.05)
        await pool.aclose()
        server.close()
        return statuses

    assert asyncio.run(main()) == [200, 200, 200]
    assert connections == 3


def test_errors_are_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/"

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        writer.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        with contextlib.suppress(asyncio.IncompleteReadError):
            await reader.readexactly(1)  # until the client gives up and closes

    async def main() -> None:
        pool = Http1Pool()
        with pytest.raises(ConnectFailed):
            await pool.request("GET", closed, {}, b"", 5)
        server, base = await _serve(garbage)
        with pytest.raises(Broken):
            await pool.request("GET", base + "/", {}, b"", 5)
        server.close()
        server, base = await _serve(silent)
        with pytest.raises(TimeoutError):
            await pool.request("GET", base + "/", {}, b"", 0.2)
        server.close()
        with pytest.raises(ValueError, match="plain http"):
            await pool.request("GET", "https://example.test/", {}, b"", 1)
        await pool.aclose()

    asyncio.run(main())
