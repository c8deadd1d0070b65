"""Run the simulator in-process: ``with Simulator() as sim: ... sim.base_url ...``.

uvicorn serves the app on a background thread with its own event loop (127.0.0.1, port 0 = a
free port unless the config says otherwise).  Leaving the ``with`` block shuts it down: the
engine's ``aclose()`` runs in the lifespan, the thread is joined, and nothing is left running.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from conformance.errors import ConfigurationError, ConformanceError
from conformance.simulator.app import EngineFactory, RequestListener, create_app
from conformance.simulator.config import SimulatorConfig
from conformance.simulator.oauth import TOKEN_PATH
from conformance.simulator.runtime import Runtime
from conformance.simulator.store import Store

__all__ = ["Simulator", "SimulatorStartError", "bind_socket"]

_START_TIMEOUT = 15.0


class SimulatorStartError(ConformanceError, RuntimeError):
    """The simulator's server did not come up."""

    reason = "simulator-start"


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
        uv_config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
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
