"""The simulator's ASGI app: every Voice operation at ``/`` and ``/api/v2``, the OAuth2 token
endpoint at ``/api/v1/oauth2/token``, ``/health`` and ``/_sim/``.

:func:`create_app` wires the parts: a :class:`~conformance.simulator.clock.VirtualClock`, the
:class:`~conformance.simulator.store.Store`, the call engine (``engine_factory(store, clock)``;
the call engine of ``simulator/engine`` by default), the rate limiter, the
:class:`~conformance.simulator.oauth.TokenAuthority` (token endpoint and Bearer checks), the
operation table and the request log.  The request path stays lean: routes are compiled once,
validators are plain functions, and the log middleware is pure ASGI.

Every answer that is not a success is a ``voiceApiError`` JSON body, including unknown paths (404),
methods (405 with ``Allow``) and anything that escapes a handler (500 ``internal-error``, logged
with rule ``internal-error``): no bare 500 ever leaves the app.  Headers are capped (431) and a
request body must arrive within ``body_timeout`` seconds (408 otherwise), and ``/_sim/`` is guarded by
:class:`~conformance.simulator.control.ControlGuard` (loopback only, or the control token).
The token endpoint answers RFC 6749 errors instead (see :mod:`conformance.simulator.oauth`); it is
logged like any Voice API request, without its query string, and the log never holds a secret, a
token or an ``Authorization`` header.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance import __version__
from conformance.simulator.api_errors import ApiError, error_response
from conformance.simulator.clock import VirtualClock
from conformance.simulator.config import SimulatorConfig
from conformance.simulator.control import ControlGuard, control_routes
from conformance.simulator.egress import EgressPolicy
from conformance.simulator.fastpath import (
    API_PREFIX,
    SCOPE_ACCOUNT,
    SCOPE_DESCRIPTION,
    SCOPE_OPERATION,
    SCOPE_RULE,
    FastDispatch,
    endpoint_for,
)
from conformance.simulator.models import CallEngine, Clock
from conformance.simulator.oauth import (
    LEGACY_BASIC_DESCRIPTION,
    LEGACY_BASIC_RULE,
    TOKEN_PATH,
    TokenAuthority,
)
from conformance.simulator.ops_calls import OPERATIONS as CALL_OPERATIONS
from conformance.simulator.ops_conferences import OPERATIONS as CONFERENCE_OPERATIONS
from conformance.simulator.ops_recordings import OPERATIONS as RECORDING_OPERATIONS
from conformance.simulator.ratelimit import RateLimiter
from conformance.simulator.runtime import Operation, Runtime, json_response
from conformance.simulator.store import RequestRecord, Store
from conformance.simulator.transport import SCOPE_LEGACY_BASIC, RequestBounds
from conformance.simulator.ui import ui_routes

__all__ = ["API_PREFIX", "OPERATIONS", "EngineFactory", "RequestListener", "create_app", "format_record"]

OPERATIONS: tuple[Operation, ...] = (*CALL_OPERATIONS, *CONFERENCE_OPERATIONS, *RECORDING_OPERATIONS)

EngineFactory = Callable[[Store, Clock], CallEngine]
RequestListener = Callable[[RequestRecord], None]

_LOG = logging.getLogger("conformance.simulator")


def _mark(scope: Scope, error: ApiError) -> None:
    scope[SCOPE_RULE] = error.rule
    scope[SCOPE_DESCRIPTION] = error.description


def _api_routes(runtime: Runtime) -> list[BaseRoute]:
    by_path: dict[str, dict[str, Operation]] = {}
    for op in OPERATIONS:
        by_path.setdefault(op.path, {})[op.method] = op
    # Hot paths first: the router tries routes in order.
    hot = ("/accounts/{accountId}/calls/{callId}", "/accounts/{accountId}/calls")
    paths = sorted(by_path, key=lambda p: (p not in hot, hot.index(p) if p in hot else 0))
    routes: list[BaseRoute] = []
    for prefix in ("", API_PREFIX):
        for path in paths:
            ops = by_path[path]
            routes.append(Route(prefix + path, endpoint_for(runtime, ops), methods=list(ops)))
    return routes


def _health(runtime: Runtime) -> Callable[[Request], Any]:
    async def health(request: Request) -> Response:
        return json_response({"status": "ok", "version": __version__, "auth": runtime.config.auth_mode})

    return health


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = ApiError(
            405, "Method Not Allowed", rule="method-not-allowed", headers=dict(exc.headers or {})
        )
    elif exc.status_code == 404:
        error = ApiError(404, f"Resource [{request.scope['path'][:200]}] not found", rule="unknown-path")
    else:
        error = ApiError(exc.status_code, str(exc.detail), rule=f"http-{exc.status_code}")
    _mark(request.scope, error)
    return error.response()


def format_record(record: RequestRecord) -> str:
    """One line per request for ``serve --log-requests``."""
    line = f"{record.method} {record.path} -> {record.status}"
    if record.operation:
        line += f" {record.operation}"
    if record.rule:
        line += f"  [{record.rule}] {record.description or ''}".rstrip()
    return line


def _print_record(record: RequestRecord) -> None:
    sys.stderr.write(format_record(record) + "\n")
    sys.stderr.flush()


class RequestLog:
    """Pure ASGI middleware: records every Voice API request and turns any escaped error into 500."""

    def __init__(self, app: ASGIApp, runtime: Runtime, listener: RequestListener | None) -> None:
        self.app = app
        self.runtime = runtime
        self.listener = listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        logged = not path.startswith(("/_sim/", "/health"))
        started = time.perf_counter()
        status = 0

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if logged:  # before the client can see the answer, so the log never lags behind it
                    self._record(scope, status, started)
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        except ClientDisconnect:  # the client left mid-body: nobody to answer, nothing broke
            scope[SCOPE_RULE] = "body-incomplete"
            scope[SCOPE_DESCRIPTION] = "The client closed the connection before sending the whole body"
            if status == 0 and logged:
                self._record(scope, 400, started)
        except Exception as exc:  # the catch-all: never a bare 500
            _LOG.exception("unhandled error answering %s %s", scope["method"], path)
            scope[SCOPE_RULE] = "internal-error"
            scope[SCOPE_DESCRIPTION] = f"{type(exc).__name__}: {exc}"[:500]
            if status == 0:
                response = error_response(500, "internal-error", "An unknown internal error occurred")
                await response(scope, receive, send_and_watch)
            elif logged:  # the answer had started: record the failure as well
                self._record(scope, 500, started)

    def _record(self, scope: Scope, status: int, started: float) -> None:
        store = self.runtime.store
        path: str = scope["path"]
        query: bytes = scope["query_string"]
        if query:  # the token endpoint's query could hold a secret: never logged
            path += "?[not logged]" if path == TOKEN_PATH else "?" + query.decode("latin-1")
        rule, description = scope.get(SCOPE_RULE), scope.get(SCOPE_DESCRIPTION)
        if rule is None and scope.get(SCOPE_LEGACY_BASIC):
            rule, description = LEGACY_BASIC_RULE, LEGACY_BASIC_DESCRIPTION
        record = store.log_request(
            RequestRecord(
                seq=store.next_request_seq(),
                time=store.now(),
                method=scope["method"],
                path=path,
                status=status,
                operation=scope.get(SCOPE_OPERATION),
                account_id=scope.get(SCOPE_ACCOUNT),
                rule=rule,
                description=description,
                duration_ms=(time.perf_counter() - started) * 1000.0,
            )
        )
        if self.listener is not None:
            self.listener(record)


def _default_engine_factory() -> EngineFactory:
    """The call engine (``simulator/engine``): places calls, runs BXML, sends webhooks."""
    from conformance.simulator.engine import engine_factory

    return engine_factory


def create_app(
    config: SimulatorConfig | None = None,
    *,
    engine_factory: EngineFactory | None = None,
    on_request: RequestListener | None = None,
) -> Starlette:
    """The simulator as an ASGI app; ``app.state.runtime`` holds its clock, store and engine.

    ``on_request`` is called with every logged request; when it is ``None`` and
    ``config.log_requests`` is set, each request is printed to stderr.
    """
    config = config or SimulatorConfig()
    clock = VirtualClock(time_scale=config.time_scale)
    store = Store(
        clock,
        _copy_accounts(config),
        credentials=config.credentials,
        max_ended_calls=config.max_ended_calls,
    )
    engine = (engine_factory or _default_engine_factory())(store, clock)
    deliverer = getattr(engine, "deliverer", None)
    if deliverer is not None and hasattr(deliverer, "egress"):
        deliverer.egress = EgressPolicy(config.callback_hosts)
    limiter = RateLimiter(
        store, calls_per_second=config.calls_per_second, max_concurrent_calls=config.max_concurrent_calls
    )
    tokens = TokenAuthority(store, mode=config.auth_mode, lifetime=config.token_lifetime)
    runtime = Runtime(config=config, clock=clock, store=store, engine=engine, limiter=limiter, tokens=tokens)
    listener = on_request if on_request is not None else (_print_record if config.log_requests else None)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        start = getattr(engine, "start", None)
        if start is not None:
            await start()
        try:
            yield
        finally:
            aclose = getattr(engine, "aclose", None)
            if aclose is not None:
                await aclose()
            await clock.aclose()

    routes: list[BaseRoute] = [
        *_api_routes(runtime),
        Route(TOKEN_PATH, tokens.endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        Route("/health", _health(runtime), methods=["GET"]),
        *control_routes(runtime),
        *ui_routes(runtime),  # /_sim/ui: the live view of calls (conformance.simulator.ui)
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestLog, runtime=runtime, listener=listener),
            Middleware(RequestBounds, seconds=config.body_timeout),
            Middleware(ControlGuard, token=config.control_token),
            Middleware(FastDispatch, runtime=runtime, operations=OPERATIONS),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.runtime = runtime
    return app


def _copy_accounts(config: SimulatorConfig) -> list[Any]:
    """Deep copies, so changes through ``/_sim/`` never reach the frozen config's objects."""
    import copy

    return [copy.deepcopy(a) for a in config.accounts]
