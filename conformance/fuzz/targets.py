"""Where webhooks go: a URL, or an ASGI / WSGI app called in-process; how one is delivered.

Delivery follows the platform: ``POST`` with a JSON body by default, or ``GET`` with the payload as
query parameters (nested objects JSON-encoded, ``null`` fields left out), optional Basic auth, and
the callback timeout, which is one deadline for the whole reply: an app that streams a body
forever, or a byte now and then, times out like one that never answers.  At most
:data:`MAX_REPLY_BYTES` of a reply are read (the rest is not waited for; the BXML check then
reports the document as too large).

URL targets are driven by a blocking client on one kept-alive connection: each phase (connect, send,
the reply's headers) is bounded by the timeout, and once the headers are in, a watchdog shuts the
connection down when the deadline passes, so a body still arriving then ends the read at once.  (A
blocking client costs a third of what the asynchronous one on a private loop thread did per webhook:
no hand-over between threads, no task per request.)  In-process ASGI apps are driven on a private
event loop, where the request is cancelled when the deadline passes.  A WSGI app cannot be
interrupted: its reply is read chunk by chunk and abandoned at the first chunk after the deadline.
An app that raises answers ``500``, as a real server would.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
import shlex
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx

from conformance.errors import ConfigurationError, TargetUnreachableError
from conformance.tls import client_context

Method = Literal["GET", "POST"]
IN_PROCESS_BASE = "http://testserver/"
USER_AGENT = "BandwidthAPI/v2 (bw-conformance fuzz-app)"
#: Most of a reply that is read (BXML is limited to 64 KB, so this is plenty to judge it).
MAX_REPLY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class _Answer:
    status: int
    content_type: str
    body: bytes
    truncated: bool


@dataclass(frozen=True)
class Exchange:
    """One webhook delivered and what came back (``error`` is ``"timeout"`` or ``"connection"``)."""

    method: Method
    url: str
    payload: dict[str, Any]
    status: int | None
    content_type: str
    body: bytes
    elapsed: float
    error: Literal["timeout", "connection"] | None = None
    detail: str = ""

    def text(self, limit: int = 500) -> str:
        decoded = self.body.decode("utf-8", errors="replace")
        return decoded if len(decoded) <= limit else decoded[:limit] + "…"


def query_params(payload: Mapping[str, Any]) -> dict[str, str]:
    """The payload as query parameters: strings as they are, other scalars and objects as JSON."""
    params: dict[str, str] = {}
    for key, value in payload.items():
        if value is None:
            continue
        params[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return params


_URL_MARK = "\x00url\x00"


def curl_command(
    method: Method,
    url: str,
    payload: Mapping[str, Any],
    username: str | None = None,
    *,
    in_process: bool = False,
) -> str:
    """A curl command that sends the same webhook (curl asks for the password itself).

    For an app fuzzed in-process the URL becomes ``"${APP_URL:-http://127.0.0.1:8000}/path"``, so the
    command works against wherever the developer runs the app."""
    parts = ["curl", "-sS", "-i"]
    if username is not None:
        parts += ["-u", username]
    if method == "GET":
        parts += ["-G", _URL_MARK]
        for key, value in query_params(payload).items():
            parts += ["--data-urlencode", f"{key}={value}"]
    else:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        parts += ["-X", "POST", _URL_MARK, "-H", "Content-Type: application/json", "--data-raw", body]
    if in_process:
        path = shlex.quote(urlsplit(url)._replace(scheme="", netloc="").geturl() or "/")
        target = '"${APP_URL:-http://127.0.0.1:8000}"' + path
    else:
        target = shlex.quote(url)
    return " ".join(target if part == _URL_MARK else shlex.quote(part) for part in parts)


def _answer(response: httpx.Response, parts: list[bytes], *, truncated: bool = True) -> _Answer:
    body = b"".join(parts)
    if truncated:
        body = body[: MAX_REPLY_BYTES + 1]  # one byte over the cap: "too large" whatever the check
    return _Answer(response.status_code, response.headers.get("content-type", ""), body, truncated)


def _is_asgi(app: object) -> bool:
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else getattr(app, "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(call)


class _Watchdog:
    """Shuts a reply's connection down when its deadline passes, ending a read that still waits.

    One thread for the whole run; arming it for a reply costs a lock, and a notify only when the
    thread sleeps past the new deadline (each wake-up is a thread switch; replies armed one after
    the other have ever later deadlines, so the thread mostly sleeps on)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._deadline: float | None = None
        self._socket: socket.socket | None = None
        self._fired = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._sleeps_until = math.inf  # when the thread next looks at the deadline by itself

    def arm(self, deadline: float, stream: Any) -> None:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return  # no socket to shut down: the per-chunk deadline check still applies
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fuzz-deadline", daemon=True)
                self._thread.start()
            self._deadline, self._socket, self._fired = deadline, sock, False
            if deadline < self._sleeps_until:
                self._condition.notify()

    def disarm(self) -> None:
        with self._condition:
            self._deadline = self._socket = None
            self._fired = False

    def fired(self) -> bool:
        with self._condition:
            return self._fired

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        with self._condition:
            while not self._closed:
                if self._deadline is None or self._socket is None:
                    self._sleeps_until = math.inf
                    self._condition.wait()
                    continue
                remaining = self._deadline - time.perf_counter()
                if remaining > 0:
                    self._sleeps_until = self._deadline
                    self._condition.wait(remaining)
                    continue
                # the plain socket's shutdown, also under TLS: the blocked read returns at once
                with contextlib.suppress(OSError):  # already closed
                    socket.socket.shutdown(self._socket, socket.SHUT_RDWR)
                self._fired = True
                self._deadline = self._socket = None


class Target:
    """Delivers webhooks to one app; use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        app: str | Callable[..., Any],
        *,
        callback_timeout: float = 15.0,
        method: Method = "POST",
        auth: tuple[str, str] | None = None,
        kind: Literal["url", "asgi", "wsgi"] | None = None,
    ) -> None:
        if callback_timeout <= 0:
            raise ConfigurationError("the callback timeout must be positive", reason="bad-timeout")
        if method not in ("GET", "POST"):
            raise ConfigurationError(f"method must be GET or POST, not {method!r}", reason="bad-method")
        self.callback_timeout = callback_timeout
        self.method: Method = method
        self.auth = auth
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._watchdog: _Watchdog | None = None
        self._stream: Any = None  # the kept-alive connection's network stream (URL targets)
        headers = {"User-Agent": USER_AGENT}
        if kind is None:
            kind = "url" if isinstance(app, str) else "asgi" if _is_asgi(app) else "wsgi"
        self.kind = kind
        self._client: httpx.Client | None = None
        if kind == "url":
            if not isinstance(app, str):
                raise ConfigurationError("a URL target must be a string", reason="bad-target")
            parts = urlsplit(app)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigurationError(f"not an http(s) URL: {app!r}", reason="bad-url")
            self.base_url = app
            self._client = httpx.Client(
                timeout=callback_timeout, headers=headers, auth=auth, verify=client_context()
            )
            self._watchdog = _Watchdog()
        elif kind == "wsgi":
            if not callable(app):
                raise ConfigurationError(
                    "an in-process target must be an ASGI or WSGI app", reason="bad-target"
                )
            self.base_url = IN_PROCESS_BASE
            transport = httpx.WSGITransport(app=app, raise_app_exceptions=False)
            self._client = httpx.Client(transport=transport, headers=headers, auth=auth)
        else:
            self.base_url = IN_PROCESS_BASE
            self._start_loop()
            asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
            self._async_client = httpx.AsyncClient(transport=asgi, headers=headers, auth=auth)

    # -- lifecycle ---------------------------------------------------------------------------------
    def _start_loop(self) -> None:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fuzz-asgi-loop", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._watchdog is not None:
            self._watchdog.close()
        if self._loop is not None and self._thread is not None:
            if self._async_client is not None:
                asyncio.run_coroutine_threadsafe(self._async_client.aclose(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- delivery ----------------------------------------------------------------------------------
    def resolve(self, route: str | None) -> str:
        """An absolute URL for ``route`` (absolute, or a path relative to the target)."""
        if not route:
            return self.base_url
        return urljoin(self.base_url, route)

    def check_reachable(self, urls: list[str]) -> None:
        """Raise :class:`TargetUnreachableError` when a URL target's host does not accept connections."""
        if self.kind != "url":
            return
        for url in dict.fromkeys(urls):
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                with socket.create_connection(
                    (parts.hostname or "", port), timeout=min(5.0, self.callback_timeout)
                ):
                    pass
            except OSError as exc:
                raise TargetUnreachableError(f"cannot connect to {url}: {exc}") from exc

    def _request_args(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        if self.method == "GET":
            return {"params": query_params(payload)}
        body = json.dumps(payload, ensure_ascii=False).encode()
        return {"content": body, "headers": {"Content-Type": "application/json"}}

    def send(self, url: str, payload: dict[str, Any]) -> Exchange:
        """Deliver ``payload`` to ``url`` and record the outcome; never raises for app failures."""
        args = self._request_args(payload)
        started = time.perf_counter()
        try:
            if self._async_client is not None and self._loop is not None:
                answer = self._send_async(url, args)
            else:
                answer = self._send_sync(url, args, started)
        except (TimeoutError, httpx.TimeoutException) as exc:
            return self._failed(
                url, payload, started, "timeout", f"no reply within {self.callback_timeout:g} s ({exc!r})"
            )
        except httpx.TransportError as exc:
            return self._failed(url, payload, started, "connection", f"{type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - started
        return Exchange(
            method=self.method,
            url=url,
            payload=payload,
            status=answer.status,
            content_type=answer.content_type,
            body=answer.body,
            elapsed=elapsed,
            detail=f"only the first {MAX_REPLY_BYTES} bytes of the reply were read"
            if answer.truncated
            else "",
        )

    def _send_async(self, url: str, args: dict[str, Any]) -> _Answer:
        assert self._loop is not None
        fetch = asyncio.wait_for(self._fetch(url, args), self.callback_timeout)
        return asyncio.run_coroutine_threadsafe(fetch, self._loop).result()

    async def _fetch(self, url: str, args: dict[str, Any]) -> _Answer:
        assert self._async_client is not None
        async with self._async_client.stream(self.method, url, **args) as response:
            parts: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                parts.append(chunk)
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    return _answer(response, parts)
            return _answer(response, parts, truncated=False)

    def _send_sync(self, url: str, args: dict[str, Any], started: float) -> _Answer:
        """A URL or a WSGI app: the body is read until the deadline passes.

        For a URL the watchdog also ends a read that is still waiting at the deadline; a WSGI app
        cannot be interrupted, so its reply is abandoned at the first chunk after the deadline."""
        assert self._client is not None
        deadline = started + self.callback_timeout
        late = TimeoutError(f"the reply was still arriving after {self.callback_timeout:g} s")
        watchdog = self._watchdog
        if watchdog is not None:
            # The deadline covers the whole exchange, headers included (an app may send its status
            # line a byte now and then): the kept-alive connection is watched from the start, and a
            # new one as soon as it is connected.
            if self._stream is not None:
                watchdog.arm(deadline, self._stream)

            def trace(event: str, info: dict[str, Any]) -> None:
                if event == "connection.connect_tcp.complete":
                    watchdog.arm(deadline, info.get("return_value"))

            args = {**args, "extensions": {"trace": trace}}
        try:
            with self._client.stream(self.method, url, **args) as response:
                if watchdog is not None:
                    self._stream = response.extensions.get("network_stream")
                    watchdog.arm(deadline, self._stream)
                parts: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    if time.perf_counter() > deadline:
                        raise late
                    parts.append(chunk)
                    size += len(chunk)
                    if size > MAX_REPLY_BYTES:
                        return _answer(response, parts)
                return _answer(response, parts, truncated=False)
        except httpx.TransportError as exc:
            if watchdog is not None and watchdog.fired():
                raise late from exc
            raise
        finally:
            if watchdog is not None:
                watchdog.disarm()

    def _failed(
        self,
        url: str,
        payload: dict[str, Any],
        started: float,
        error: Literal["timeout", "connection"],
        detail: str,
    ) -> Exchange:
        return Exchange(
            method=self.method,
            url=url,
            payload=payload,
            status=None,
            content_type="",
            body=b"",
            elapsed=time.perf_counter() - started,
            error=error,
            detail=detail,
        )

    def curl(self, url: str, payload: Mapping[str, Any]) -> str:
        username = self.auth[0] if self.auth else None
        return curl_command(self.method, url, payload, username, in_process=self.kind != "url")


__all__ = [
    "IN_PROCESS_BASE",
    "MAX_REPLY_BYTES",
    "Exchange",
    "Method",
    "Target",
    "curl_command",
    "query_params",
]
