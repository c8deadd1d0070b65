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

import json
import secrets
from typing import Any

from starlette.requests import Request

from conformance.simulator.api_errors import ApiError, forbidden, unauthorized
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

__all__ = ["SCOPE_LEGACY_BASIC", "authenticate", "base_url", "read_json", "read_text", "require_content_type"]

_API_PREFIX = "/api/v2"
# Set in the ASGI scope when a request authenticated with Basic while Bearer tokens work too.
SCOPE_LEGACY_BASIC = "bw.legacy-basic"
_BASIC_CHALLENGE = f'Basic realm="{REALM}"'


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
        if not length.isdigit():
            raise ApiError(400, "Invalid Content-Length header", rule="content-length")
        if int(length) > limit:
            raise ApiError(413, f"Request body exceeds {limit} bytes", rule="body-too-large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"Request body exceeds {limit} bytes", rule="body-too-large")
        chunks.append(chunk)
    return b"".join(chunks)


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
