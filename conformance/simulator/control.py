"""The control API under ``/_sim/``: change accounts, credentials, routing, limits and time; read
the request log.

It answers JSON; errors use the same ``voiceApiError`` body as the Voice API.  Who may use it
(:class:`ControlGuard`): without a control token (``SimulatorConfig.control_token``, ``serve
--control-token`` or ``BW_SIM_CONTROL_TOKEN``), only a client on this machine that names a
loopback ``Host`` (``localhost``, ``127.0.0.1``, ``[::1]``, any port); anything else gets 403, so a
web page cannot reach it through DNS rebinding and other machines cannot reach it even when the
simulator listens on every interface.  With a token, every control request must carry
``Authorization: Bearer <token>`` (401 otherwise), from anywhere.  Every input is checked (types,
number ranges, string sizes) before anything changes: a refused request changes nothing.

Bodies use the accounts-file shape (see :mod:`conformance.simulator.config`).  Passwords and
client secrets are never echoed (``"*****"``); a ``"*****"`` sent back in a PUT keeps the stored
one.  Deleting an account (or leaving it out of a ``PUT /_sim/accounts``) drops it from every
credential's ``accounts``.

=======  =================================================  ===========================================
Method   Path                                               What it does
=======  =================================================  ===========================================
GET      ``/_sim/accounts``                                 ``{"accounts": [...]}``
PUT      ``/_sim/accounts``                                 replace every account (``{"accounts": [...]}``;
                                                            with ``"credentials"``, those too)
GET      ``/_sim/accounts/{accountId}``                     one account
PUT      ``/_sim/accounts/{accountId}``                     add or replace one account (200; 201 if new)
DELETE   ``/_sim/accounts/{accountId}``                     remove an account (204)
GET      ``/_sim/accounts/{accountId}/applications``        ``{"applications": [...]}``
GET      ``/_sim/accounts/{accountId}/applications/{id}``   one application
PUT      ``/_sim/accounts/{accountId}/applications/{id}``   add or replace an application:
                                                            ``callInitiatedCallbackUrl``,
                                                            ``callInitiatedMethod``,
                                                            ``callInitiatedFallbackUrl``,
                                                            ``callStatusCallbackUrl``, ``callStatusMethod``,
                                                            ``callbackUsername``, ``callbackPassword``,
                                                            ``callbackTimeout``
DELETE   ``/_sim/accounts/{accountId}/applications/{id}``   remove it (its numbers become unrouted)
GET      ``/_sim/accounts/{accountId}/numbers``             ``{"numbers": [{number, applicationId}]}``
GET      ``/_sim/accounts/{accountId}/numbers/{number}``    one number and its application
PUT      ``/_sim/accounts/{accountId}/numbers/{number}``    route a number: ``{"applicationId": ...}``
                                                            (moves it from another account)
DELETE   ``/_sim/accounts/{accountId}/numbers/{number}``    release a number (204)
GET/PUT  ``/_sim/accounts/{accountId}/limits``              ``callsPerSecond``, ``maxConcurrentCalls``
                                                            (``null``: use the defaults),
                                                            ``maxCallQueueSize``
GET/PUT  ``/_sim/limits``                                   default ``callsPerSecond`` and
                                                            ``maxConcurrentCalls`` (``null``: unlimited)
GET      ``/_sim/credentials``                              ``{"credentials": [{clientId, clientSecret,
                                                            accounts}]}`` (OAuth2 clients)
PUT      ``/_sim/credentials``                              replace every credential (those left out
                                                            have their tokens revoked)
GET      ``/_sim/credentials/{clientId}``                   one credential
PUT      ``/_sim/credentials/{clientId}``                   add or replace one: ``clientSecret``,
                                                            ``accounts`` (200; 201 if new); its tokens
                                                            stay good
DELETE   ``/_sim/credentials/{clientId}``                   remove it and revoke its tokens (204)
POST     ``/_sim/credentials/{clientId}/revoke``            revoke every token issued to it so far (204)
GET      ``/_sim/requests``                                 the request log (``?since=SEQ&limit=N``):
                                                            ``{"requests": [{seq, time, method, path,
                                                            status, operation, accountId, rule,
                                                            description, durationMs}]}``; ``rule`` names
                                                            the contract rule the request broke
DELETE   ``/_sim/requests``                                 clear the log (204)
GET      ``/_sim/clock``                                    ``{"now": ISO time, "timeScale": n | null,
                                                            "realTimeLeases": n}``
PUT      ``/_sim/clock``                                    ``{"timeScale": 1 | null}``: real time
                                                            times a factor from 0.001 to 1000, or
                                                            virtual time (409 if the clock is fixed)
POST     ``/_sim/clock/real-time``                          a lease on real time (201 ``{"lease",
                                                            "expiresInSeconds"}``; body optional:
                                                            ``{"seconds": 1-3600}``, default 600):
                                                            while any lease (or media stream) holds
                                                            it a virtual clock runs at real time, so
                                                            calls stay up while clients talk to them
DELETE   ``/_sim/clock/real-time/{lease}``                  give it back (204; 404 if unknown or
                                                            expired); after the last one a clock the
                                                            leases slowed down leaps again
=======  =================================================  ===========================================
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.errors import ConfigurationError
from conformance.simulator.api_errors import ApiError, bad_request
from conformance.simulator.clock import MAX_TIME_SCALE, MIN_TIME_SCALE, VirtualClock
from conformance.simulator.config import (
    MAX_CALLS_PER_SECOND,
    MAX_CONCURRENT_CALLS,
    MIN_CALLS_PER_SECOND,
    account_from_json,
    account_to_json,
    application_from_json,
    application_to_json,
    check_credentials,
    credential_from_json,
    credential_to_json,
    parse_accounts,
    parse_credentials,
)
from conformance.simulator.engine.streams import hold_real_time, release_real_time
from conformance.simulator.models import Account, ApiCredential, PhoneNumber
from conformance.simulator.render import MASK, iso_time
from conformance.simulator.runtime import Runtime, json_response
from conformance.simulator.transport import read_json
from conformance.simulator.validation import E164

__all__ = ["CONTROL_PREFIX", "ControlGuard", "control_routes", "is_loopback_host"]

CONTROL_PREFIX = "/_sim/"
MAX_CALL_QUEUE_SIZE = 10_000_000
_PORT = re.compile(r":[0-9]{1,5}")
_QUERY_INT = re.compile(r"[0-9]{1,18}")

_Handler = Callable[[Request, Runtime], Awaitable[Response]]


def _config_error(exc: ConfigurationError) -> ApiError:
    return ApiError(400, str(exc), rule="control-invalid")


def _account(request: Request, runtime: Runtime) -> Account:
    account_id: str = request.path_params["accountId"]
    account = runtime.store.account(account_id)
    if account is None:
        raise ApiError(404, f"Account [{account_id[:200]}] not found", rule="unknown-account")
    return account


async def _body(request: Request, runtime: Runtime) -> dict[str, Any]:
    return await read_json(request, runtime.config.max_body_bytes)


# ------------------------------------------------------------------------------------------ accounts
async def get_accounts(request: Request, runtime: Runtime) -> Response:
    return json_response({"accounts": [account_to_json(a) for a in runtime.store.accounts.values()]})


async def put_accounts(request: Request, runtime: Runtime) -> Response:
    body = await _body(request, runtime)
    store = runtime.store
    try:
        accounts = parse_accounts(body, where="body")
        credentials = None
        if "credentials" in body:
            credentials = parse_credentials(body, {a.id for a in accounts}, where="body")
            credentials = _keep_masked_client_secrets(credentials, store.credentials)
    except ConfigurationError as exc:
        raise _config_error(exc) from None
    store.accounts = {a.id: a for a in accounts}
    if credentials is not None:
        store.replace_credentials(credentials)
    store.reindex()  # credentials lose the accounts that are gone
    runtime.limiter.reset()
    return await get_accounts(request, runtime)


async def get_account(request: Request, runtime: Runtime) -> Response:
    return json_response(account_to_json(_account(request, runtime)))


async def put_account(request: Request, runtime: Runtime) -> Response:
    account_id: str = request.path_params["accountId"]
    body = await _body(request, runtime)
    body.setdefault("id", account_id)
    try:
        account = account_from_json(body, where="body")
    except ConfigurationError as exc:
        raise _config_error(exc) from None
    if account.id != account_id:
        raise bad_request("id", "must match the account id in the path")
    store = runtime.store
    for other in store.accounts.values():
        if other.id != account_id and other.username == account.username:
            raise bad_request("username", f"is already used by account {other.id}")
    existed = account_id in store.accounts
    _keep_masked_secrets(account, store.accounts.get(account_id))
    for number in account.numbers:  # numbers move to this account
        for other in store.accounts.values():
            if other.id != account_id:
                other.numbers.pop(number, None)
    store.put_account(account)
    return json_response(account_to_json(account), 200 if existed else 201)


def _keep_masked_secrets(new: Account, old: Account | None) -> None:
    """A GET -> edit -> PUT round trip sends ``*****`` back: keep the stored secret then."""
    if old is None:
        return
    if new.password == MASK:
        new.password = old.password
    for app in new.applications.values():
        previous = old.applications.get(app.id)
        if previous is not None and app.callback_password == MASK:
            app.callback_password = previous.callback_password


async def delete_account(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    runtime.store.remove_account(account.id)
    runtime.limiter.reset(account.id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------ credentials
def _client_id(request: Request) -> str:
    value: str = request.path_params["clientId"]
    return value


def _credential(request: Request, runtime: Runtime) -> ApiCredential:
    client_id = _client_id(request)
    credential = runtime.store.credential(client_id)
    if credential is None:
        raise ApiError(404, f"Credential [{client_id[:200]}] not found", rule="unknown-credential")
    return credential


def _keep_masked_client_secrets(
    new: list[ApiCredential], old: dict[str, ApiCredential]
) -> list[ApiCredential]:
    """``*****`` as a secret keeps the stored one; for a credential that is new it is a 400."""
    kept: list[ApiCredential] = []
    for credential in new:
        if credential.client_secret == MASK:
            previous = old.get(credential.client_id)
            if previous is None:
                raise ConfigurationError(
                    f"body: credential {credential.client_id!r} is new, so its clientSecret cannot be "
                    "'*****' (that keeps a stored secret)",
                    reason="bad-accounts",
                )
            credential = replace(credential, client_secret=previous.client_secret)
        kept.append(credential)
    return kept


def _credentials_json(runtime: Runtime) -> dict[str, Any]:
    return {"credentials": [credential_to_json(c) for c in runtime.store.credentials.values()]}


async def get_credentials(request: Request, runtime: Runtime) -> Response:
    return json_response(_credentials_json(runtime))


async def put_credentials(request: Request, runtime: Runtime) -> Response:
    body = await _body(request, runtime)
    store = runtime.store
    if not isinstance(body.get("credentials"), list):
        raise bad_request("credentials", "must be a list of {clientId, clientSecret, accounts}")
    try:
        credentials = parse_credentials(body, store.accounts, where="body")
        credentials = _keep_masked_client_secrets(credentials, store.credentials)
    except ConfigurationError as exc:
        raise _config_error(exc) from None
    store.replace_credentials(credentials)
    return json_response(_credentials_json(runtime))


async def get_credential(request: Request, runtime: Runtime) -> Response:
    return json_response(credential_to_json(_credential(request, runtime)))


async def put_credential(request: Request, runtime: Runtime) -> Response:
    client_id = _client_id(request)
    body = await _body(request, runtime)
    body.setdefault("clientId", client_id)
    store = runtime.store
    try:
        credential = credential_from_json(body, where="body")
        if credential.client_id != client_id:
            raise bad_request("clientId", "must match the client id in the path")
        (credential,) = _keep_masked_client_secrets([credential], store.credentials)
        check_credentials([credential], store.accounts, "body")
    except ConfigurationError as exc:
        raise _config_error(exc) from None
    existed = client_id in store.credentials
    store.put_credential(credential)
    return json_response(credential_to_json(credential), 200 if existed else 201)


async def delete_credential(request: Request, runtime: Runtime) -> Response:
    credential = _credential(request, runtime)
    runtime.store.remove_credential(credential.client_id)
    return Response(status_code=204)


async def revoke_credential(request: Request, runtime: Runtime) -> Response:
    credential = _credential(request, runtime)
    runtime.store.revoke_tokens(credential.client_id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------ applications
async def get_applications(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    return json_response({"applications": [application_to_json(a) for a in account.applications.values()]})


def _application_id(request: Request) -> str:
    value: str = request.path_params["applicationId"]
    return value


async def get_application(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    app = account.applications.get(_application_id(request))
    if app is None:
        raise ApiError(
            404, f"Application [{_application_id(request)[:200]}] not found", rule="unknown-application"
        )
    return json_response(application_to_json(app))


async def put_application(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    app_id = _application_id(request)
    body = await _body(request, runtime)
    body.setdefault("id", app_id)
    try:
        app = application_from_json(body, where="body")
    except ConfigurationError as exc:
        raise _config_error(exc) from None
    if app.id != app_id:
        raise bad_request("id", "must match the application id in the path")
    existed = app_id in account.applications
    if existed and app.callback_password == MASK:
        app.callback_password = account.applications[app_id].callback_password
    account.applications[app_id] = app
    return json_response(application_to_json(app), 200 if existed else 201)


async def delete_application(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    app_id = _application_id(request)
    if account.applications.pop(app_id, None) is None:
        raise ApiError(404, f"Application [{app_id[:200]}] not found", rule="unknown-application")
    for number in account.numbers.values():
        if number.application_id == app_id:
            number.application_id = None
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------ numbers
def _number_json(number: PhoneNumber) -> dict[str, Any]:
    return {"number": number.number, "applicationId": number.application_id}


def _number(request: Request) -> str:
    value: str = request.path_params["number"]
    if E164.fullmatch(value) is None:
        raise bad_request("number", "must be an E164 telephone number")
    return value


async def get_numbers(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    return json_response({"numbers": [_number_json(n) for n in account.numbers.values()]})


async def get_number(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    number = _number(request)
    found = account.numbers.get(number)
    if found is None:
        raise ApiError(404, f"Number [{number}] not found", rule="unknown-number")
    return json_response(_number_json(found))


async def put_number(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    number = _number(request)
    body = await _body(request, runtime)
    app_id = body.get("applicationId")
    if app_id is not None and (not isinstance(app_id, str) or app_id not in account.applications):
        raise bad_request("applicationId", "must be an application of this account or null")
    store = runtime.store
    for other in store.accounts.values():
        if other.id != account.id:
            other.numbers.pop(number, None)
    account.numbers[number] = PhoneNumber(number, app_id)
    store.reindex()
    return json_response(_number_json(account.numbers[number]))


async def delete_number(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    number = _number(request)
    if account.numbers.pop(number, None) is None:
        raise ApiError(404, f"Number [{number}] not found", rule="unknown-number")
    runtime.store.reindex()
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------ limits
_RANGES: dict[str, tuple[float, float]] = {
    "callsPerSecond": (MIN_CALLS_PER_SECOND, MAX_CALLS_PER_SECOND),
    "maxConcurrentCalls": (1, MAX_CONCURRENT_CALLS),
    "maxCallQueueSize": (1, MAX_CALL_QUEUE_SIZE),
}


def _limit(body: dict[str, Any], key: str, *, integer: bool) -> tuple[bool, Any]:
    """Whether ``key`` was given, and its value (``None``: no limit) within the key's range."""
    if key not in body:
        return False, None
    value = body[key]
    if value is None:
        return True, None
    low, high = _RANGES[key]
    numeric = isinstance(value, int) if integer else isinstance(value, int | float)
    # Compared as given: an int of thousands of digits never goes through float().
    if isinstance(value, bool) or not numeric or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise bad_request(key, f"must be {kind} from {low:g} to {high:g}, or null")
    return True, value


def _account_limits(account: Account) -> dict[str, Any]:
    return {
        "callsPerSecond": account.calls_per_second,
        "maxConcurrentCalls": account.max_concurrent_calls,
        "maxCallQueueSize": account.max_call_queue_size,
    }


async def get_account_limits(request: Request, runtime: Runtime) -> Response:
    return json_response(_account_limits(_account(request, runtime)))


async def put_account_limits(request: Request, runtime: Runtime) -> Response:
    account = _account(request, runtime)
    body = await _body(request, runtime)
    set_cps, cps = _limit(body, "callsPerSecond", integer=False)
    set_conc, conc = _limit(body, "maxConcurrentCalls", integer=True)
    set_queue, queue = _limit(body, "maxCallQueueSize", integer=True)
    if set_queue and queue is None:
        raise bad_request("maxCallQueueSize", "must be a positive integer")
    if set_cps:
        account.calls_per_second = None if cps is None else float(cps)
        runtime.limiter.reset(account.id)
    if set_conc:
        account.max_concurrent_calls = conc
    if set_queue:
        account.max_call_queue_size = queue
    return json_response(_account_limits(account))


def _default_limits(runtime: Runtime) -> dict[str, Any]:
    return {
        "callsPerSecond": runtime.limiter.calls_per_second,
        "maxConcurrentCalls": runtime.limiter.max_concurrent_calls,
    }


async def get_limits(request: Request, runtime: Runtime) -> Response:
    return json_response(_default_limits(runtime))


async def put_limits(request: Request, runtime: Runtime) -> Response:
    body = await _body(request, runtime)
    set_cps, cps = _limit(body, "callsPerSecond", integer=False)
    set_conc, conc = _limit(body, "maxConcurrentCalls", integer=True)
    if set_cps:
        runtime.limiter.calls_per_second = None if cps is None else float(cps)
        runtime.limiter.reset()
    if set_conc:
        runtime.limiter.max_concurrent_calls = conc
    return json_response(_default_limits(runtime))


# ------------------------------------------------------------------------------------------ log, clock
def _int_query(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if _QUERY_INT.fullmatch(raw) is None:  # ASCII digits only ("²".isdigit() is true), 18 at most
        raise bad_request(name, "must be a non-negative integer of at most 18 digits")
    return int(raw)


async def get_requests(request: Request, runtime: Runtime) -> Response:
    since = _int_query(request, "since", 0)
    limit = _int_query(request, "limit", 1000)
    records = [r.to_json() for r in runtime.store.requests if r.seq > since][:limit]
    return json_response({"requests": records})


async def delete_requests(request: Request, runtime: Runtime) -> Response:
    runtime.store.clear_requests()
    return Response(status_code=204)


def _clock_json(runtime: Runtime) -> dict[str, Any]:
    leases = len(_live_leases(runtime.clock))  # first: leases past their time change the scale
    return {
        "now": iso_time(runtime.clock.now()),
        "timeScale": getattr(runtime.clock, "time_scale", None),
        "realTimeLeases": leases,
    }


# Leases on real time, per clock: lease id -> when it expires (time.monotonic()).  Clients that
# keep a call up while they send it requests (the suites' ``Loopback.real_time``) each hold one, so
# that one client ending its block never puts the clock back to virtual time under another (two
# xdist workers on one simulator).  Counted together with the media streams' own holds.
_LEASES: weakref.WeakKeyDictionary[object, dict[str, float]] = weakref.WeakKeyDictionary()
_DEFAULT_LEASE_SECONDS = 600
_MAX_LEASE_SECONDS = 3600
_MAX_LEASES = 1000


def _live_leases(clock: object) -> dict[str, float]:
    """The clock's leases, those past their time given back first."""
    leases = _LEASES.get(clock)
    if leases is None:
        return {}
    now = time.monotonic()
    for lease in [lease for lease, expires in leases.items() if expires <= now]:
        del leases[lease]
        release_real_time(clock)  # type: ignore[arg-type]
    return leases


async def post_real_time(request: Request, runtime: Runtime) -> Response:
    raw = request.headers.get("content-length")
    body = await _body(request, runtime) if raw not in (None, "0") else {}
    seconds = body.get("seconds", _DEFAULT_LEASE_SECONDS)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= _MAX_LEASE_SECONDS:
        raise bad_request("seconds", f"must be a whole number of seconds from 1 to {_MAX_LEASE_SECONDS}")
    clock = runtime.clock
    if not isinstance(clock, VirtualClock):
        raise ApiError(409, "The simulator's clock does not support changing its time scale",
                       rule="clock-fixed", error_id="")  # fmt: skip
    leases = _LEASES.setdefault(clock, {})
    _live_leases(clock)
    if len(leases) >= _MAX_LEASES:
        raise ApiError(409, f"At most {_MAX_LEASES} real-time leases may be held at once",
                       rule="too-many-leases", error_id="")  # fmt: skip
    lease = "rt-" + secrets.token_hex(8)
    leases[lease] = time.monotonic() + seconds
    hold_real_time(clock)
    return json_response({"lease": lease, "expiresInSeconds": seconds, **_clock_json(runtime)}, status=201)


async def delete_real_time(request: Request, runtime: Runtime) -> Response:
    lease = request.path_params["lease"]
    leases = _live_leases(runtime.clock)
    if lease not in leases:
        raise ApiError(404, f"Real-time lease [{lease}] not found (unknown, returned or expired)",
                       rule="unknown-lease", error_id="")  # fmt: skip
    del leases[lease]
    release_real_time(runtime.clock)  # type: ignore[arg-type]
    return Response(status_code=204)


def _settable_scale(clock: object) -> bool:
    prop = getattr(type(clock), "time_scale", None)
    return isinstance(prop, property) and prop.fset is not None


async def get_clock(request: Request, runtime: Runtime) -> Response:
    return json_response(_clock_json(runtime))


async def put_clock(request: Request, runtime: Runtime) -> Response:
    body = await _body(request, runtime)
    if "timeScale" not in body:
        raise bad_request("timeScale", "is required (a positive number, or null for virtual time)")
    scale = body["timeScale"]
    if scale is not None and (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not MIN_TIME_SCALE <= scale <= MAX_TIME_SCALE
    ):
        raise bad_request(
            "timeScale", f"must be a number from {MIN_TIME_SCALE:g} to {MAX_TIME_SCALE:g}, or null"
        )
    clock = runtime.clock
    if not _settable_scale(clock):
        raise ApiError(409, "The simulator's clock does not support changing its time scale",
                       rule="clock-fixed", error_id="")  # fmt: skip
    try:
        clock.time_scale = None if scale is None else float(scale)  # type: ignore[attr-defined]
    except ConfigurationError as exc:
        raise _config_error(exc) from None
    return json_response(_clock_json(runtime))


# ------------------------------------------------------------------------------------------ routes
def _wrap(runtime: Runtime, handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, runtime)
        except ApiError as error:
            return error.response()

    return endpoint


def control_routes(runtime: Runtime) -> list[BaseRoute]:
    acc = "/_sim/accounts/{accountId}"
    table: list[tuple[str, dict[str, _Handler]]] = [
        ("/_sim/accounts", {"GET": get_accounts, "PUT": put_accounts}),
        (acc, {"GET": get_account, "PUT": put_account, "DELETE": delete_account}),
        (f"{acc}/applications", {"GET": get_applications}),
        (
            f"{acc}/applications/{{applicationId}}",
            {"GET": get_application, "PUT": put_application, "DELETE": delete_application},
        ),
        (f"{acc}/numbers", {"GET": get_numbers}),
        (f"{acc}/numbers/{{number}}", {"GET": get_number, "PUT": put_number, "DELETE": delete_number}),
        (f"{acc}/limits", {"GET": get_account_limits, "PUT": put_account_limits}),
        ("/_sim/limits", {"GET": get_limits, "PUT": put_limits}),
        ("/_sim/credentials", {"GET": get_credentials, "PUT": put_credentials}),
        (
            "/_sim/credentials/{clientId}",
            {"GET": get_credential, "PUT": put_credential, "DELETE": delete_credential},
        ),
        ("/_sim/credentials/{clientId}/revoke", {"POST": revoke_credential}),
        ("/_sim/requests", {"GET": get_requests, "DELETE": delete_requests}),
        ("/_sim/clock", {"GET": get_clock, "PUT": put_clock}),
        ("/_sim/clock/real-time", {"POST": post_real_time}),
        ("/_sim/clock/real-time/{lease}", {"DELETE": delete_real_time}),
    ]
    routes: list[BaseRoute] = []
    for path, handlers in table:
        wrapped = {m: _wrap(runtime, h) for m, h in handlers.items()}

        async def endpoint(request: Request, wrapped: dict[str, Any] = wrapped) -> Response:
            method = "GET" if request.method == "HEAD" else request.method
            response: Response = await wrapped[method](request)
            return response

        routes.append(Route(path, endpoint, methods=list(handlers)))
    return routes


# ------------------------------------------------------------------------------------------ access
def is_loopback_host(value: str) -> bool:
    """Whether a ``Host`` header (or a bind address) names this machine: ``localhost``, 127.x, ::1."""
    host = value.strip().lower()
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket:
            return False
    elif host.count(":") > 1:  # a bare IPv6 address (a bind address, never a Host header)
        name, rest = host, ""
    else:
        name, colon, port = host.partition(":")
        rest = colon + port
    if rest and _PORT.fullmatch(rest) is None:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _loopback_address(address: str) -> bool:
    """Whether a peer address is this machine (``::ffff:127.0.0.1`` too: a dual-stack socket's IPv4)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


class ControlGuard:
    """Pure ASGI middleware in front of ``/_sim/``: the token when one is set, else this machine only."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] + "/").startswith(CONTROL_PREFIX):
            error = self.refusal(scope)
            if error is not None:
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> ApiError | None:
        headers = {k.lower(): v for k, v in scope["headers"]}
        if self.token is not None:
            given = headers.get(b"authorization", b"")
            scheme, _, value = given.partition(b" ")
            if scheme.lower() == b"bearer" and secrets.compare_digest(value.strip(), self.token.encode()):
                return None
            return ApiError(
                401, "The control API needs Authorization: Bearer <control token>",
                rule="control-token", error_type="authentication-error",
                headers={"WWW-Authenticate": 'Bearer realm="simulator control"'},
            )  # fmt: skip
        host = headers.get(b"host", b"").decode("latin-1")
        if not is_loopback_host(host):
            return ApiError(
                403, "The control API answers only requests naming a loopback Host (localhost, "
                "127.0.0.1, [::1]); set a control token to reach it otherwise",
                rule="control-host", error_type="authorization-error",
            )  # fmt: skip
        client = scope.get("client")
        if client is None or not _loopback_address(str(client[0])):
            return ApiError(
                403, "The control API answers only clients on this machine; set a control token "
                "to reach it from elsewhere",
                rule="control-remote", error_type="authorization-error",
            )  # fmt: skip
        return None
