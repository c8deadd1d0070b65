"""Request plumbing shared by every operation: authentication, content types, bounded body reading.

Each function either returns what the handler needs or raises
:class:`~conformance.simulator.api_errors.ApiError` with the status the real API documents
(401, 403, 413, 415, 400).  Nothing here touches the store's records, so a refused request
leaves no trace but its entry in the request log.

Authentication follows the simulator's auth mode (``SimulatorConfig.auth_mode``):

======  ===================================  ================================================
mode    ``Authorization: Basic`` (API user)  ``Authorization: Bearer`` (OAuth2 access token)
======  ===================================  ================================================
both    accepted; logged as                  accepted
        ``legacy-basic-auth``
oauth2  401 ``basic-auth-retired``           accepted
basic   accepted                             401 ``bearer-not-accepted``
======  ===================================  ================================================

A request without credentials gets 401 with a challenge for each scheme the mode accepts.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.simulator.api_errors import SCOPE_DESCRIPTION, SCOPE_RULE, ApiError, forbidden, unauthorized
from conformance.simulator.models import Account
from conformance.simulator.oauth import (
    BASIC_RETIRED,
    BEARER_NOT_ACCEPTED,
    REALM,
    TOKEN_MISSING,
    TokenAuthority,
    basic_pair,
    bearer_challenge,
)
from conformance.simulator.store import Store

__all__ = [
    "MAX_HEADER_BYTES",
    "SCOPE_LEGACY_BASIC",
    "BodyTimeout",
    "RequestBounds",
    "authenticate",
    "base_url",
    "read_json",
    "read_text",
    "require_content_type",
]

_API_PREFIX = "/api/v2"
# Set in the ASGI scope when a request authenticated with Basic while Bearer tokens work too.
SCOPE_LEGACY_BASIC = "bw.legacy-basic"
_BASIC_CHALLENGE = f'Basic realm="{REALM}"'
_DIGITS = re.compile(r"[0-9]{1,64}")
MAX_HEADER_BYTES = 32 * 1024  # all header lines of a request together (nginx's default large buffers)


def authenticate(request: Request, store: Store, account_id: str, tokens: TokenAuthority) -> Account:
    """The account the request may act for: 401 for bad credentials, 403 for another account."""
    header = request.headers.get("authorization")
    mode = tokens.mode
    if header is not None and header[:6].lower() == "bearer" and header[6:7] in ("", " "):
        if mode == "basic":
            raise ApiError(
                401, BEARER_NOT_ACCEPTED, rule="bearer-not-accepted", error_type="authentication-error",
                headers={"WWW-Authenticate": _BASIC_CHALLENGE},
            )  # fmt: skip
        return tokens.account_for(header, account_id)
    if mode == "oauth2":
        retired = header is not None and header[:6].lower() == "basic "
        raise ApiError(
            401,
            BASIC_RETIRED if retired else TOKEN_MISSING,
            rule="basic-auth-retired" if retired else "token-missing",
            error_type="authentication-error",
            headers={"WWW-Authenticate": bearer_challenge()},
        )
    account = None if header is None else store.remembered_authorization(header)
    if account is None:
        creds = basic_pair(header)
        if creds is None:
            raise _missing(mode) if header is None else unauthorized()
        account = store.account_by_username(creds[0])
        if account is None or not secrets.compare_digest(account.password.encode(), creds[1].encode()):
            raise unauthorized()
        assert header is not None
        store.remember_authorization(header, account)
    if account.id != account_id:
        raise forbidden()
    if mode == "both":
        request.scope[SCOPE_LEGACY_BASIC] = True
    return account


def _missing(mode: str) -> ApiError:
    error = unauthorized()
    if mode == "both":  # RFC 7235: one challenge per scheme that would work
        error.headers["WWW-Authenticate"] = f"{bearer_challenge()}, {_BASIC_CHALLENGE}"
    return error


def base_url(request: Request) -> str:
    """Scheme, host and API prefix the client used (``http://127.0.0.1:8080/api/v2`` or no prefix)."""
    scope = request.scope
    host = request.headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    prefix = _API_PREFIX if scope["path"].startswith(_API_PREFIX + "/") else ""
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{prefix}"


def require_content_type(request: Request, *expected: str) -> None:
    """415 unless the media type is one of ``expected`` (a ``charset`` other than UTF-8 also fails)."""
    raw = request.headers.get("content-type")
    if raw is None:
        raise ApiError(415, "Content type '' not supported", rule="content-type")
    media, _, params = raw.partition(";")
    media = media.strip().lower()
    ok = media in expected
    if ok and params:
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
                ok = False
    if not ok:
        shown = raw.replace("'", "")[:200]
        raise ApiError(415, f"Content type '{shown}' not supported", rule="content-type")


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        # ASCII digits only ("²".isdigit() is true), and few enough for int() to be cheap.
        if _DIGITS.fullmatch(length) is None:
            raise ApiError(400, "Invalid Content-Length header", rule="content-length")
        if len(length.lstrip("0")) > 18 or int(length) > limit:
            raise ApiError(413, f"Request body exceeds {limit} bytes", rule="body-too-large")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"Request body exceeds {limit} bytes", rule="body-too-large")
            chunks.append(chunk)
    except ClientDisconnect:  # nobody to answer: recorded as a refused request, not a crash
        raise ApiError(400, "The client closed the connection before sending the whole body",
                       rule="body-incomplete") from None  # fmt: skip
    return b"".join(chunks)


class RequestBounds:
    """Pure ASGI middleware: headers of at most :data:`MAX_HEADER_BYTES`, and a request body that
    arrives whole within ``seconds`` of its headers.

    Oversized headers get 431; a client that sends its body slowly (or never finishes it) gets 408
    when the handler is reading the body; both with a ``voiceApiError`` body and ``Connection:
    close``, so nothing holds the connection longer than the deadline.  Reading after the body is
    complete (listening for a disconnect) is not limited.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(len(name) + len(value) + 4 for name, value in scope["headers"]) > MAX_HEADER_BYTES:
            too_big = ApiError(
                431, f"The request headers exceed {MAX_HEADER_BYTES} bytes", rule="headers-too-large",
                headers={"Connection": "close"},
            )  # fmt: skip
            scope[SCOPE_RULE], scope[SCOPE_DESCRIPTION] = too_big.rule, too_big.description
            await too_big.response()(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        complete = False
        started = False

        async def receive_by_deadline() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):  # no extra task, unlike wait_for
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout() from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def send_and_watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive_by_deadline, send_and_watch)
        except BodyTimeout as exc:  # escaped a handler that does not answer ApiError itself
            if started:
                raise
            scope[SCOPE_RULE], scope[SCOPE_DESCRIPTION] = exc.rule, exc.description
            await exc.response()(scope, receive, send_and_watch)


class BodyTimeout(ApiError):
    """The request body did not arrive in time: 408, and the connection is closed."""

    def __init__(self) -> None:
        super().__init__(
            408,
            "The request body did not arrive in time",
            rule="body-timeout",
            headers={"Connection": "close"},
        )


async def read_text(request: Request, limit: int) -> str:
    data = await _read_body(request, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, f"Invalid body: not valid UTF-8 at byte {exc.start}", rule="body-encoding"
        ) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object: 415 for another content type, 413 when too big, 400 otherwise."""
    require_content_type(request, "application/json")
    text = await read_text(request, limit)
    if not text.strip():
        raise ApiError(400, "Invalid body: a JSON object is required", rule="body-missing")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        message = str(exc).splitlines()[0][:200]
        raise ApiError(400, f"Invalid body: malformed JSON ({message})", rule="body-json") from None
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid body: must be a JSON object", rule="body-not-object")
    return value
