"""Broken targets for the flows and bxml suites.

:class:`TamperingProxy` sits between the target and the webhook sink: the suite is run with
``--bw-callback-base-url`` set to the proxy, so every webhook the target sends passes through it,
and one :class:`Tamper` breaks one rule on the way (drop a webhook, reorder two, rewrite
``eventType``, strip ``tag``, swallow the fallback request, turn the app's invalid BXML reply into
a valid one).  The proxy learns where the sink listens from :class:`SinkLink`, a pytest plugin
handed to the inner (pytester) run that watches the ``bw_sink`` fixture being set up.

:class:`AcceptInvalidBxml` is ASGI middleware around the simulator: it answers 204 to PUT BXML
that the simulator rejected.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
import uvicorn
from pytest_httpserver import HTTPServer
from pytest_httpserver.httpserver import URIPattern
from werkzeug.wrappers import Request, Response

from conformance.bxml import is_valid
from conformance.simulator import SimulatorConfig, create_app
from conformance.simulator.engine import engine_factory
from conformance.simulator.server import bind_socket

__all__ = [
    "HANGUP",
    "AcceptInvalidBxml",
    "Exchange",
    "HideControlApi",
    "SinkLink",
    "Tamper",
    "TamperingProxy",
    "drop_event",
    "fix_invalid_bxml",
    "reorder_events",
    "rewrite_event_type",
    "rewrite_field",
    "serve_simulator",
    "strip_header",
    "strip_tag",
    "swallow_path",
]

HANGUP = b"<Response><Hangup/></Response>"
_HOLD_LIMIT = 5.0  # seconds a reordered webhook waits for its partner at most


@dataclass(frozen=True)
class Exchange:
    """One webhook on its way through the proxy."""

    method: str
    path: str
    query: bytes
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any] | None:
        if self.method != "POST":
            return None
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    @property
    def event_type(self) -> str | None:
        payload = self.payload
        value = payload.get("eventType") if payload else None
        return value if isinstance(value, str) else None

    def with_payload(self, payload: dict[str, Any]) -> Exchange:
        return replace(self, body=json.dumps(payload).encode())


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None


Forward = Callable[[Exchange], Reply]


@dataclass
class Tamper:
    """One broken rule: ``handle(exchange, forward)`` returns the reply the target gets."""

    name: str
    handle: Callable[[Exchange, Forward], Reply]


def drop_event(event: str) -> Tamper:
    """``event`` never reaches the sink; the target is told 204."""

    def handle(exchange: Exchange, forward: Forward) -> Reply:
        if exchange.event_type == event:
            return Reply(204)
        return forward(exchange)

    return Tamper(f"drop {event}", handle)


def reorder_events(first: str, second: str) -> Tamper:
    """``first`` is held (the target is told 204 at once) and reaches the sink only after
    ``second`` (or after a few seconds when ``second`` never comes)."""
    held: list[Exchange] = []
    lock = threading.Lock()
    released = threading.Event()

    def release_later(forward: Forward) -> None:
        released.wait(_HOLD_LIMIT)
        with lock:
            pending = list(held)
            held.clear()
        for exchange in pending:
            forward(exchange)

    def handle(exchange: Exchange, forward: Forward) -> Reply:
        if exchange.event_type == first:
            with lock:
                held.append(exchange)
            threading.Thread(target=release_later, args=(forward,), daemon=True).start()
            return Reply(204)
        reply = forward(exchange)
        if exchange.event_type == second:
            released.set()
        return reply

    return Tamper(f"reorder {first} after {second}", handle)


def rewrite_event_type(old: str, new: str) -> Tamper:
    def handle(exchange: Exchange, forward: Forward) -> Reply:
        payload = exchange.payload
        if payload is not None and payload.get("eventType") == old:
            payload["eventType"] = new
            return forward(exchange.with_payload(payload))
        return forward(exchange)

    return Tamper(f"rewrite eventType {old} -> {new}", handle)


def strip_tag() -> Tamper:
    def handle(exchange: Exchange, forward: Forward) -> Reply:
        payload = exchange.payload
        if payload is not None and "tag" in payload:
            del payload["tag"]
            return forward(exchange.with_payload(payload))
        return forward(exchange)

    return Tamper("strip tag", handle)


def rewrite_field(event: str, name: str, value: Any) -> Tamper:
    """``event`` reaches the sink with ``name`` set to ``value``."""

    def handle(exchange: Exchange, forward: Forward) -> Reply:
        payload = exchange.payload
        if payload is not None and payload.get("eventType") == event:
            payload[name] = value
            return forward(exchange.with_payload(payload))
        return forward(exchange)

    return Tamper(f"rewrite {event}.{name}", handle)


def strip_header(name: str) -> Tamper:
    """Every webhook reaches the sink without the header ``name`` (e.g. Authorization)."""

    def handle(exchange: Exchange, forward: Forward) -> Reply:
        kept = {k: v for k, v in exchange.headers.items() if k.lower() != name.lower()}
        return forward(replace(exchange, headers=kept))

    return Tamper(f"strip {name}", handle)


def swallow_path(suffix: str) -> Tamper:
    """Requests to paths ending with ``suffix`` are answered by the proxy (Hangup), not the sink."""

    def handle(exchange: Exchange, forward: Forward) -> Reply:
        if exchange.path.endswith(suffix):
            return Reply(200, HANGUP, "application/xml")
        return forward(exchange)

    return Tamper(f"swallow requests to */{suffix}", handle)


def fix_invalid_bxml() -> Tamper:
    """The app's invalid BXML replies reach the target as ``<Hangup/>``."""

    def handle(exchange: Exchange, forward: Forward) -> Reply:
        reply = forward(exchange)
        if reply.body.strip().startswith(b"<") and not is_valid(reply.body, "call"):
            return Reply(200, HANGUP, "application/xml")
        return reply

    return Tamper("invalid BXML replies made valid", handle)


class _AnyPath(URIPattern):
    def match(self, uri: str) -> bool:
        return True


class TamperingProxy:
    """A webhook proxy on 127.0.0.1 (an ephemeral port) that applies one :class:`Tamper`."""

    def __init__(self, tamper: Tamper) -> None:
        self.tamper = tamper
        self.upstream: str | None = None  # the sink's local URL (set by SinkLink)
        self.seen: list[Exchange] = []
        self._server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self._server.expect_request(_AnyPath()).respond_with_handler(self._handle)
        self._http = httpx.Client(timeout=30.0, trust_env=False)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return str(self._server.url_for("/")).rstrip("/")

    def __enter__(self) -> TamperingProxy:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server.is_running():
            self._server.stop()
        self._http.close()

    def forward(self, exchange: Exchange) -> Reply:
        if self.upstream is None:
            return Reply(502, b"the proxy does not know the sink yet")
        skip = {"host", "content-length", "connection", "transfer-encoding"}
        headers = {k: v for k, v in exchange.headers.items() if k.lower() not in skip}
        url = self.upstream + exchange.path + (f"?{exchange.query.decode()}" if exchange.query else "")
        try:
            response = self._http.request(exchange.method, url, headers=headers, content=exchange.body)
        except httpx.HTTPError as exc:
            return Reply(502, f"proxy: {exc}".encode())
        return Reply(response.status_code, response.content, response.headers.get("content-type"))

    def _handle(self, request: Request) -> Response:
        exchange = Exchange(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=dict(request.headers.items()),
            body=request.get_data(),
        )
        with self._lock:
            self.seen.append(exchange)
        reply = self.tamper.handle(exchange, self.forward)
        response = Response(reply.body, status=reply.status)
        if reply.content_type:
            response.headers["Content-Type"] = reply.content_type
        else:
            response.headers.pop("Content-Type", None)
        return response


@dataclass(eq=False)  # a plugin object must stay hashable
class SinkLink:
    """Plugin for the inner pytest run: tells the proxy where the run's sink listens."""

    proxy: TamperingProxy
    linked: list[str] = field(default_factory=list)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, Any, Any]:
        result = yield
        if fixturedef.argname == "bw_sink":
            self.proxy.upstream = str(result.local_url)
            self.linked.append(self.proxy.upstream)
        return result


# ------------------------------------------------------------------------------------ middleware
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AcceptInvalidBxml:
    """ASGI middleware: a PUT of call BXML the app rejected with 400 is answered 204."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state = getattr(app, "state", None)
        self.rewritten = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or scope.get("method") != "PUT" or not path.endswith("/bxml"):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, capture)
        assert start is not None
        if start["status"] == 400:
            self.rewritten += 1
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


class HideControlApi:
    """ASGI middleware: the simulator without its ``/_sim/`` control API, like any other target."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state = getattr(app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith("/_sim"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await self.app(scope, receive, send)


@contextmanager
def serve_simulator(
    wrap: Callable[[ASGIApp], ASGIApp] | None = None, *, time_scale: float | None = None
) -> Iterator[str]:
    """Serve a simulator running the call engine (optionally wrapped by ASGI middleware; in real
    time with ``time_scale=1``) on 127.0.0.1 in a thread; yield its base URL."""
    app = create_app(SimulatorConfig(time_scale=time_scale), engine_factory=engine_factory)
    engine = app.state.runtime.engine
    served: ASGIApp = wrap(app) if wrap is not None else app
    sock = bind_socket("127.0.0.1", 0)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    engine.base_url = base_url
    server = _Server(uvicorn.Config(served, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        started = threading.Event()
        for _ in range(1500):
            if server.started or not thread.is_alive():
                break
            started.wait(0.01)
        if not server.started:
            raise RuntimeError("the simulator did not start")
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
