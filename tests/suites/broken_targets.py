"""Deliberately broken Voice API targets: the simulator behind an ASGI middleware that breaks one rule.

Each :class:`Breakage` rewrites requests on their way in and/or responses on their way out; the
control API under ``/_sim/`` is never touched.  :func:`serve` runs the broken app with uvicorn on
127.0.0.1 (a free port) in a thread and yields its base URL.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import uvicorn
import yaml

from conformance.resources import load_spec
from conformance.simulator import create_app
from conformance.simulator.config import SimulatorConfig
from conformance.simulator.server import bind_socket

__all__ = ["BREAKAGES", "Breakage", "Request", "Response", "serve", "trimmed_contract"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OWN_AUTH = "Basic " + base64.b64encode(b"bw-user:bw-pass").decode()
_CALL_PATH = re.compile(r"^(?:/api/v2)?/accounts/[^/]+/calls/?$")
_CALL_STATE_PATH = re.compile(r"^(?:/api/v2)?/accounts/[^/]+/calls/([^/]+)/?$")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def with_header(self, name: str, value: str) -> Request:
        wanted = name.lower().encode()
        kept = tuple((k, v) for k, v in self.headers if k.lower() != wanted)
        return replace(self, headers=(*kept, (wanted, value.encode("latin-1"))))


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def with_header(self, name: str, value: str | None) -> Response:
        wanted = name.lower().encode()
        kept = tuple((k, v) for k, v in self.headers if k.lower() != wanted)
        if value is None:
            return replace(self, headers=kept)
        return replace(self, headers=(*kept, (wanted, value.encode("latin-1"))))

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def with_json(self, value: Any, status: int | None = None) -> Response:
        body = json.dumps(value).encode()
        return replace(self, body=body, status=self.status if status is None else status).with_header(
            "content-type", "application/json"
        )


def _keep_request(request: Request, store: Any) -> Request:
    return request


def _keep_response(request: Request, response: Response) -> Response:
    return response


@dataclass(frozen=True)
class Breakage:
    """One broken rule: how requests and responses are rewritten, and what the suite must report."""

    name: str
    expect: tuple[str, ...]  # texts the failing run's output must contain (the rule's name)
    select: str  # -k expression: the tests that must catch it
    operations: tuple[str, ...]  # operationIds kept in the trimmed contract handed to the suite
    on_request: Callable[[Request, Any], Request] = field(default=_keep_request)  # (request, store)
    on_response: Callable[[Request, Response], Response] = field(default=_keep_response)


# ---------------------------------------------------------------------------------- breakages
def _ignore_auth(request: Request, store: Any) -> Request:
    # Whatever the caller sends, the simulator sees the default account's valid credentials.
    return request.with_header("authorization", OWN_AUTH)


_ACCOUNT_IN_PATH = re.compile(r"^((?:/api/v2)?/accounts/)([^/]+)")


def _leak_across_accounts(request: Request, store: Any) -> Request:
    # The account comes from the credentials; the account in the path is ignored.
    auth = request.header("authorization") or ""
    if not auth.startswith("Basic "):
        return request
    username = base64.b64decode(auth[6:]).decode("utf-8", "replace").partition(":")[0]
    account = store.account_by_username(username)
    if account is None:
        return request
    path = _ACCOUNT_IN_PATH.sub(lambda m: m.group(1) + account.id, request.path, count=1)
    return replace(request, path=path)


def _plain_text_errors(request: Request, response: Response) -> Response:
    if response.status < 400:
        return response
    return replace(response, body=b"something went wrong").with_header("content-type", "text/plain")


def _create_call_answers_200(request: Request, response: Response) -> Response:
    if request.method == "POST" and _CALL_PATH.match(request.path) and response.status == 201:
        return replace(response, status=200)
    return response


def _drop_call_url(request: Request, response: Response) -> Response:
    body = response.json()
    if request.method == "POST" and response.status == 201 and isinstance(body, dict) and "callUrl" in body:
        del body["callUrl"]
        return response.with_json(body)
    return response


def _accept_invalid_input(request: Request, response: Response) -> Response:
    if response.status == 400 and request.method == "POST" and _CALL_PATH.match(request.path):
        fake = {
            "applicationId": "11111111-1111-4111-8111-111111111111",
            "accountId": "9900000",
            "callId": "c-00000000-00000000-0000-4000-8000-000000000000",
            "to": "+19195550150",
            "from": "+19195550100",
            "callUrl": "http://127.0.0.1/accounts/9900000/calls/c-00000000-00000000-0000-4000-8000-000000000000",
            "answerMethod": "POST",
            "answerUrl": "https://example.com/answer",
            "disconnectMethod": "POST",
        }
        return response.with_json(fake, status=201).with_header("location", fake["callUrl"])
    return response


def _unknown_call_is_200(request: Request, response: Response) -> Response:
    match = _CALL_STATE_PATH.match(request.path)
    if request.method == "GET" and match and response.status == 404:
        return response.with_json({"callId": match.group(1), "state": "answered"}, status=200)
    return response


def _wrong_location(request: Request, response: Response) -> Response:
    if request.method == "POST" and _CALL_PATH.match(request.path) and response.status == 201:
        return response.with_header("location", "http://127.0.0.1:9/elsewhere")
    return response


_CALL_ID = re.compile(rb'"(callId|parentCallId)"\s*:\s*"c-([0-9a-f-]+)"')


def _long_call_ids(request: Request, response: Response) -> Response:
    if not 200 <= response.status < 300 or not response.body:
        return response
    body = _CALL_ID.sub(lambda m: b'"' + m.group(1) + b'":"call-' + m.group(2) + b'"', response.body)
    return replace(response, body=body)


def _answer_before_start(request: Request, response: Response) -> Response:
    body = response.json()
    if request.method != "GET" or response.status != 200:
        return response
    items = body if isinstance(body, list) else [body]
    changed = False
    for item in items:
        if isinstance(item, dict) and item.get("startTime") and item.get("answerTime") is not None:
            item["startTime"], item["answerTime"] = "2030-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z"
            changed = True
    return response.with_json(body) if changed else response


def _ended_calls_accept_updates(request: Request, response: Response) -> Response:
    if response.status == 409:
        return replace(response, status=200 if request.method == "POST" else 204, body=b"").with_header(
            "content-type", None
        )
    return response


def _list_ignores_filters(request: Request, store: Any) -> Request:
    if request.method == "GET" and _CALL_PATH.match(request.path):
        return replace(request, query=b"")
    return request


def _no_paging(request: Request, response: Response) -> Response:
    if request.method == "GET" and _CALL_PATH.match(request.path):
        return response.with_header("link", None)
    return response


_CALLS = ("createCall", "getCallState")
BREAKAGES: tuple[Breakage, ...] = (
    Breakage("auth-ignored", ("bw_auth_required",), "test_operation", _CALLS, on_request=_ignore_auth),
    Breakage(
        "accounts-leak",
        ("bw_cross_account_denied",),
        "test_operation",
        _CALLS,
        on_request=_leak_across_accounts,
    ),
    Breakage(
        "error-body-not-json", ("bw_error_body",), "test_operation", _CALLS, on_response=_plain_text_errors
    ),
    Breakage(
        "wrong-status",
        ("Undocumented status code",),
        "test_operation",
        ("createCall",),
        on_response=_create_call_answers_200,
    ),
    Breakage(
        "missing-required-field",
        ("Response violates schema", "callUrl"),
        "test_operation",
        ("createCall",),
        on_response=_drop_call_url,
    ),
    Breakage(
        "invalid-input-accepted",
        ("Schema-violating request accepted",),
        "test_operation",
        ("createCall",),
        on_response=_accept_invalid_input,
    ),
    Breakage(
        "unknown-id-answered-200",
        ("bw_id_formats", "accounts cannot see each other's calls"),
        "test_operation or test_other_account",
        _CALLS,
        on_response=_unknown_call_is_200,
    ),
    Breakage(
        "location-not-call-url",
        ("bw_create_call_location",),
        "test_operation",
        ("createCall",),
        on_response=_wrong_location,
    ),
    Breakage("ids-wrong-format", ("bw_id_formats",), "test_operation", _CALLS, on_response=_long_call_ids),
    Breakage(
        "times-out-of-order",
        ("a completed call reads disconnected", "enqueuedTime"),
        "test_completed_call",
        _CALLS,
        on_response=_answer_before_start,
    ),
    Breakage(
        "ended-call-accepts-updates",
        ("an ended call cannot be modified",),
        "test_completed_call",
        _CALLS,
        on_response=_ended_calls_accept_updates,
    ),
    Breakage(
        "list-filters-ignored",
        ("listCalls filters filter",),
        "test_list_calls_filters",
        ("createCall", "listCalls"),
        on_request=_list_ignores_filters,
    ),
    Breakage(
        "paging-without-link",
        ("listCalls pages with Link rel=next",),
        "test_list_calls_pages",
        ("createCall", "listCalls"),
        on_response=_no_paging,
    ),
)


# ---------------------------------------------------------------------------------- middleware
class BrokenApp:
    """ASGI middleware: buffers each Voice API exchange and lets a :class:`Breakage` rewrite it."""

    def __init__(self, app: ASGIApp, breakage: Breakage) -> None:
        self.app = app
        self.breakage = breakage
        self.state = getattr(app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        request = Request(
            method=str(scope["method"]),
            path=str(scope["path"]),
            query=bytes(scope.get("query_string", b"")),
            headers=tuple((bytes(k), bytes(v)) for k, v in scope["headers"]),
            body=b"".join(chunks),
        )
        request = self.breakage.on_request(request, self.state.runtime.store if self.state else None)
        inner_scope = dict(
            scope,
            path=request.path,
            raw_path=request.path.encode(),
            headers=[list(h) for h in request.headers],
            query_string=request.query,
        )
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": request.body, "more_body": False}
            return await receive()

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        body: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(inner_scope, replay, capture)
        response = self.breakage.on_response(request, Response(status, tuple(headers), b"".join(body)))
        out = [(k, v) for k, v in response.headers if k.lower() != b"content-length"]
        out.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        await send({"type": "http.response.body", "body": response.body, "more_body": False})


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


@contextmanager
def serve(breakage: Breakage, config: SimulatorConfig | None = None) -> Iterator[str]:
    """Serve the simulator (``config``) broken by ``breakage`` on 127.0.0.1; yield its base URL."""
    app = BrokenApp(create_app(config), breakage)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        waited = threading.Event()
        for _ in range(1500):
            if server.started or not thread.is_alive():
                break
            waited.wait(0.01)
        if not server.started:
            raise RuntimeError(f"the broken target {breakage.name} did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


# ------------------------------------------------------------------------------------ contract
def _drop_links_to(document: Any, kept: set[str]) -> None:
    if isinstance(document, dict):
        links = document.get("links")
        if isinstance(links, dict):
            for name in [n for n, link in links.items() if isinstance(link, dict)]:
                if links[name].get("operationId") not in kept:
                    del links[name]
        for value in document.values():
            _drop_links_to(value, kept)
    elif isinstance(document, list):
        for item in document:
            _drop_links_to(item, kept)


def trimmed_contract(directory: Path, operations: Iterable[str]) -> Path:
    """The packaged contract with only the paths of ``operations`` (operationIds), all their methods
    (so nothing the target serves looks undeclared), and the links between what is left."""
    wanted = set(operations)
    document: dict[str, Any] = copy.deepcopy(load_spec())
    paths = {
        path: item
        for path, item in document["paths"].items()
        if any(isinstance(v, dict) and v.get("operationId") in wanted for v in item.values())
    }
    kept = {str(v.get("operationId")) for i in paths.values() for v in i.values() if isinstance(v, dict)}
    missing = wanted - kept
    assert not missing, f"the contract has no operations {sorted(missing)}"
    document["paths"] = paths
    _drop_links_to(document, kept)
    target = directory / f"contract-{'-'.join(sorted(wanted))}.yml"
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target
