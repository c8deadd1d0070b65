"""Run the simulator in-process: ``with Simulator() as sim: ... sim.base_url ...``.

uvicorn serves the app on a background thread with its own event loop (127.0.0.1, port 0 = a
free port unless the config says otherwise).  Leaving the ``with`` block shuts it down: the
engine's ``aclose()`` runs in the lifespan, the thread is joined, and nothing is left running.

:func:`uvicorn_config` is how both this and ``bw-conformance serve`` configure uvicorn, with the
connection rules of :class:`GuardedH11Protocol`: an idle keep-alive connection stays open
``keep_alive`` seconds (75 by default, not uvicorn's 5); a request line and headers must arrive
within ``header_timeout`` seconds of the first byte (or of the connection); at most
``max_connections`` connections are open at once (more are answered 503 and closed at once, so
the process never runs out of descriptors); and a request h11 cannot parse (bad
``Content-Length``, bad chunking, oversized headers) gets a ``voiceApiError`` JSON body, not
text/plain.  The header size cap and the body deadline are
:class:`~conformance.simulator.transport.RequestBounds`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from conformance.errors import ConfigurationError, SimulatorStartError
from conformance.simulator.app import EngineFactory, RequestListener, create_app
from conformance.simulator.config import SimulatorConfig
from conformance.simulator.oauth import TOKEN_PATH
from conformance.simulator.runtime import Runtime
from conformance.simulator.store import Store

__all__ = [
    "GuardedH11Protocol",
    "Simulator",
    "SimulatorStartError",
    "bind_socket",
    "connection_limits",
    "tune_gc",
    "uvicorn_config",
]

_START_TIMEOUT = 15.0
_PHRASES = {400: "Bad Request", 408: "Request Timeout", 503: "Service Unavailable"}


# Python collects its youngest generation every 700 allocations.  A webhook allocates thousands of
# short-lived objects (payload, request, reply), almost none of them in reference cycles, so under load
# a standalone simulator spent 15-19% of its CPU in the collector (py-spy, bench/engine.py).
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Tune the garbage collector for a process that is only a simulator (``bw-conformance serve``).

    Everything loaded so far (modules, the contract, the app) is frozen out of the collector's sight,
    and the youngest generation is collected every 50,000 allocations instead of 700.  Reference
    cycles are still collected, less often.  Not for the embedded simulator: that process is the
    user's (pytest, schemathesis), and its collector is left as it is."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket, or :class:`ConfigurationError` naming the address when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it every response written in two parts waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", reason="port-in-use"
        ) from None
    sock.set_inheritable(True)
    return sock


def _raw_error(status: int, error_type: str, description: str) -> bytes:
    """A whole HTTP/1.1 error answer with a ``voiceApiError`` body that closes the connection."""
    body = json.dumps({"type": error_type, "description": description, "id": None}).encode()
    head = (
        f"HTTP/1.1 {status} {_PHRASES[status]}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _descriptor_limit() -> int | None:
    """The process's soft limit of open descriptors (``None``: unlimited or unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def connection_limits(config: SimulatorConfig, descriptors: int | None) -> tuple[int, int]:
    """How many connections may be open, and how many the server accepts in one go (its backlog).

    Open connections get at most half the descriptors (the rest is for webhooks, media and files).
    asyncio accepts up to ``backlog`` connections before any of them is answered, so the backlog is
    kept within what is left: were accepting to run out of descriptors, asyncio would stop
    accepting for a whole second, and the 503 for connections over the cap would come too late.
    """
    if descriptors is None:
        return config.max_connections, 2048
    cap = min(config.max_connections, max(8, descriptors // 2))
    backlog = max(16, min(2048, (descriptors - cap) // 2))
    return cap, backlog


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline, a connection cap and JSON framing errors.

    The class attributes are set per server by :func:`uvicorn_config`.
    """

    header_timeout: float = 30.0
    max_connections: int = 1000
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(_raw_error(503, "error", "Too many open connections; retry shortly"))
            transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        waiting = self._waiting_for_headers()
        if waiting and self._header_timer is None:
            self._arm_header_timer()
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a request's headers are in: the body has its own deadline
            self._cancel_header_timer()

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout, self.cycle)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self, cycle: object) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._waiting_for_headers():
            return
        if self.cycle is not cycle:  # another request came and went; wait afresh for the next one
            self._arm_header_timer()
            return
        pending, _ = self.conn.trailing_data
        if pending:  # a request begun and not finished; a connection that sent nothing just closes
            description = "The request line and headers did not arrive in time"
            self.transport.write(_raw_error(408, "validation", description))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request h11 refuses (framing): the voiceApiError body instead of uvicorn's text/plain."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            description = "Invalid HTTP request: malformed request line, headers or body framing"
            self.transport.write(_raw_error(400, "validation", description))
        self.transport.close()


def uvicorn_config(app: Any, config: SimulatorConfig, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for the simulator: keep-alive, header deadline, connection cap."""
    cap, backlog = connection_limits(config, _descriptor_limit())
    protocol = type(
        "SimulatorH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": config.header_timeout, "max_connections": cap},
    )
    return uvicorn.Config(
        app,
        http=protocol,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_keep_alive=config.keep_alive,
        backlog=backlog,
        **options,
    )


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test thread keeps its signals
        pass


class Simulator:
    """The embedded simulator as a context manager.

    ``base_url`` (``http://127.0.0.1:PORT``), ``token_url`` (its OAuth2 token endpoint),
    ``store``, ``app`` and ``runtime`` are available inside the ``with`` block.  Construct with a
    :class:`SimulatorConfig` or keyword overrides of it (``Simulator(time_scale=1.0)``,
    ``Simulator(auth_mode="oauth2", token_lifetime=60)``).
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        engine_factory: EngineFactory | None = None,
        on_request: RequestListener | None = None,
        **overrides: Any,
    ) -> None:
        if config is None:
            config = SimulatorConfig(**overrides)
        elif overrides:
            from dataclasses import replace

            config = replace(config, **overrides)
        self.config = config
        self.app: Starlette = create_app(config, engine_factory=engine_factory, on_request=on_request)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None
        self.base_url = ""

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def token_url(self) -> str:
        """``{base_url}/api/v1/oauth2/token``: where clients trade client credentials for tokens."""
        return self.base_url + TOKEN_PATH

    def start(self) -> Simulator:
        if self._thread is not None:
            raise SimulatorStartError("the simulator is already running")
        sock = bind_socket(self.config.host, self.config.port)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"
        uv_config = uvicorn_config(self.app, self.config, timeout_graceful_shutdown=5)
        server = _Server(uv_config)
        self._server, self._socket = server, sock

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported on the caller's thread
                self._error = exc

        self._thread = threading.Thread(target=run, name=f"bw-simulator-{port}", daemon=True)
        self._thread.start()
        self._wait_started()
        # Webhook payloads carry callUrl/mediaUrl: point the engine at the address actually bound.
        engine = self.runtime.engine
        if hasattr(engine, "base_url"):
            engine.base_url = self.base_url
        return self

    def _wait_started(self) -> None:
        server, thread = self._server, self._thread
        assert server is not None
        assert thread is not None
        deadline = threading.Event()
        waited = 0.0
        while not server.started:
            if not thread.is_alive() or waited > _START_TIMEOUT:
                self.stop()
                cause = self._error
                raise SimulatorStartError(f"the simulator did not start: {cause or 'timeout'}") from cause
            deadline.wait(0.01)
            waited += 0.01

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=15)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
