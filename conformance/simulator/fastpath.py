"""Direct dispatch of Voice API requests, ahead of Starlette's routing layers.

Every path of the contract alternates a fixed word and an id (``/accounts/{accountId}/calls/
{callId}/recordings/{recordingId}/media``), so a path is matched by one dictionary look-up on its
fixed words instead of trying each route's regular expression in turn, and the handler is called
without the per-request layers Starlette adds around a route.  Anything this does not match
exactly (an unknown path, a method the operation does not have, an empty id, a trailing slash)
falls through to the Starlette router, which answers 404 or 405 with ``Allow``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.errors import ConformanceError
from conformance.simulator.api_errors import (
    SCOPE_ACCOUNT,
    SCOPE_DESCRIPTION,
    SCOPE_OPERATION,
    SCOPE_RULE,
    ApiError,
)
from conformance.simulator.runtime import Ctx, Operation, Runtime
from conformance.simulator.transport import authenticate

__all__ = [
    "API_PREFIX",
    "SCOPE_ACCOUNT",
    "SCOPE_DESCRIPTION",
    "SCOPE_OPERATION",
    "SCOPE_RULE",
    "FastDispatch",
    "handle",
]

API_PREFIX = "/api/v2"

_Key = tuple[int, tuple[str, ...]]
_Entry = tuple[dict[str, Operation], tuple[str, ...]]


def _split(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``/a/{x}/b`` -> (("a", "b"), ("x",)); raises if words and ids do not alternate."""
    parts = template.strip("/").split("/")
    words, names = parts[0::2], parts[1::2]
    if any(w.startswith("{") for w in words) or not all(n.startswith("{") and n.endswith("}") for n in names):
        raise ValueError(f"path template {template!r} does not alternate words and ids")
    return tuple(words), tuple(n[1:-1] for n in names)


async def handle(request: Request, runtime: Runtime, op: Operation) -> Response:
    """Authenticate, run the operation's handler, and turn an :class:`ApiError` into its answer."""
    scope = request.scope
    scope[SCOPE_OPERATION] = op.operation_id
    try:
        account = authenticate(request, runtime.store, request.path_params["accountId"], runtime.tokens)
        scope[SCOPE_ACCOUNT] = account.id
        return await op.handler(Ctx(request, runtime, account))
    except ApiError as error:
        scope[SCOPE_RULE] = error.rule
        scope[SCOPE_DESCRIPTION] = error.description
        return error.response()
    except ConformanceError as exc:  # a named error from validation (BXML, config): the input's fault
        refused = ApiError(400, f"Invalid request: {str(exc)[:500]}", rule=exc.reason)
        scope[SCOPE_RULE] = refused.rule
        scope[SCOPE_DESCRIPTION] = refused.description
        return refused.response()


class FastDispatch:
    """Pure ASGI middleware: serve a Voice operation directly, else pass the request on."""

    def __init__(self, app: ASGIApp, runtime: Runtime, operations: Iterable[Operation]) -> None:
        self.app = app
        self.runtime = runtime
        self._table: dict[_Key, _Entry] = {}
        for op in operations:
            words, names = _split(op.path)
            key = (len(words) + len(names), words)
            methods, _ = self._table.setdefault(key, ({}, names))
            methods[op.method] = op

    def match(self, path: str) -> tuple[_Entry, list[str]] | None:
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX) :]
        parts = path[1:].split("/")
        ids = parts[1::2]
        if "" in ids:
            return None
        entry = self._table.get((len(parts), tuple(parts[0::2])))
        return None if entry is None else (entry, ids)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.match(scope["path"])
            if found is not None:
                (methods, names), ids = found
                method = scope["method"]
                op = methods.get("GET" if method == "HEAD" else method)
                if op is not None:
                    scope["path_params"] = dict(zip(names, ids, strict=True))
                    response = await handle(Request(scope, receive), self.runtime, op)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def endpoint_for(runtime: Runtime, operations: dict[str, Operation]) -> Callable[[Request], object]:
    """A Starlette endpoint for one path (used when a request reaches the router)."""

    async def endpoint(request: Request) -> Response:
        method = request.method
        op = operations["GET" if method == "HEAD" else method]
        return await handle(request, runtime, op)

    return endpoint
