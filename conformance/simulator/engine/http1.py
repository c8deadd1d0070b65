"""A small keep-alive HTTP/1.1 client for webhooks to plain ``http://`` apps.

Why not httpx for everything: under many concurrent requests ``httpx.AsyncClient`` spends most of
its time in its connection pool (encode/httpx#3215).  ``bench/engine.py`` measured it delivering
about 60 webhooks/s to a sink that takes 3,000 requests/s from a plain asyncio client on the same
machine.  Webhooks need very little of HTTP: one request with a body, a response with
``Content-Length``, chunked encoding or close-delimited, keep-alive.  ``https://`` and anything
unusual still go through httpx (see :mod:`~conformance.simulator.engine.delivery`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

from conformance.errors import ConformanceError

_MAX_HEAD = 64 * 1024
_MAX_BODY = 8 * 1024 * 1024

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class ConnectFailed(ConformanceError, ConnectionError):
    """The connection could not be opened (refused, unreachable); nothing was sent."""

    reason = "connect-failed"


class Broken(ConformanceError, ConnectionError):
    """The connection broke or the response was not HTTP/1.1 we can read."""

    reason = "bad-response"


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes


class Http1Pool:
    """Keep-alive connections per origin, shared by every call on one event loop."""

    def __init__(self, max_idle_per_origin: int = 1024) -> None:
        self._idle: dict[tuple[str, int], list[_Conn]] = defaultdict(list)
        self._max_idle = max_idle_per_origin

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for _, writer in conns:
                writer.close()
        self._idle.clear()

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> Response:
        """Send one request; ``TimeoutError`` after ``timeout`` seconds in total."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not a plain http URL: {url}")
        host, port = parts.hostname, parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        authority = parts.netloc.rsplit("@", 1)[-1]
        lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        async with asyncio.timeout(timeout):
            for attempt in range(2):
                conn, reused = await self._connection(host, port)
                try:
                    response, keep = await self._exchange(conn, raw, method)
                except (ConnectionError, asyncio.IncompleteReadError, Broken) as exc:
                    conn[1].close()
                    if reused and attempt == 0 and not isinstance(exc, Broken):
                        continue  # the server closed an idle keep-alive connection: try a fresh one
                    if isinstance(exc, Broken):
                        raise
                    raise Broken(f"connection to {host}:{port} broke: {exc!r}") from None
                except BaseException:
                    conn[1].close()
                    raise
                if keep and len(self._idle[(host, port)]) < self._max_idle:
                    self._idle[(host, port)].append(conn)
                else:
                    conn[1].close()
                return response
        raise Broken(f"no response from {host}:{port}")  # pragma: no cover - loop always returns

    async def _connection(self, host: str, port: int) -> tuple[_Conn, bool]:
        idle = self._idle.get((host, port))
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return (reader, writer), True
            writer.close()
        try:
            reader, writer = await asyncio.open_connection(host, port, limit=_MAX_HEAD)
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
        return (reader, writer), False

    async def _exchange(self, conn: _Conn, raw: bytes, method: str) -> tuple[Response, bool]:
        reader, writer = conn
        writer.write(raw)
        await writer.drain()
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                raise Broken("response headers are too large") from None
            status, headers = _parse_head(head)
            if status >= 200 or status == 101:
                break  # skip interim 1xx responses
        keep = headers.get("connection", "").lower() != "close"
        if method == "HEAD" or status in (204, 304):
            return Response(status, headers, b""), keep
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return Response(status, headers, await _read_chunked(reader)), keep
        length = headers.get("content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise Broken(f"bad Content-Length {length!r}") from None
            if size < 0 or size > _MAX_BODY:
                raise Broken(f"response body of {size} bytes refused")
            return Response(status, headers, await reader.readexactly(size)), keep
        body = await reader.read(_MAX_BODY)
        with contextlib.suppress(Exception):
            writer.close()
        return Response(status, headers, body), False


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
        raise Broken(f"not an HTTP/1.x response: {lines[0][:80]!r}")
    try:
        status = int(status_line[1])
    except ValueError:
        raise Broken(f"bad status line {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise Broken(f"bad header line {line[:80]!r}")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return status, headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise Broken("bad chunk size") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        total += size
        if total > _MAX_BODY:
            raise Broken("response body too large")
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


__all__ = ["Broken", "ConnectFailed", "Http1Pool", "Response"]
