"""The simulator's settings (one frozen dataclass) and its accounts file.

An accounts file is JSON or YAML shaped like this (every key but ``id``, ``username`` and
``password`` is optional)::

    accounts:
      - id: "9900000"
        username: bw-user
        password: bw-pass
        callsPerSecond: 5          # omit or null: no limit
        maxConcurrentCalls: 100    # omit or null: no limit
        applications:
          - id: 11111111-1111-4111-8111-111111111111
            name: default
            callInitiatedCallbackUrl: https://example.test/initiate
            callInitiatedMethod: POST
            callStatusCallbackUrl: https://example.test/status
            callStatusMethod: POST
            callbackUsername: hook-user
            callbackPassword: hook-pass
        numbers:
          - {number: "+19195550100", applicationId: 11111111-1111-4111-8111-111111111111}

Instead of ``number``, an entry may give an inclusive range:
``{range: ["+19195550100", "+19195550199"], applicationId: ...}``.

OAuth2 client credentials (Bandwidth's "API credentials") sit beside the accounts, at the top
level; one credential may cover several accounts::

    credentials:
      - clientId: bw-client
        clientSecret: bw-client-secret
        accounts: ["9900000"]

A file without ``credentials`` has none: its accounts are reached with HTTP Basic only.  Without a
file, the simulator has the two built-in accounts and the two built-in credentials
(:data:`DEFAULT_CLIENT_ID` / :data:`DEFAULT_CLIENT_SECRET` on account 9900000,
:data:`OTHER_CLIENT_ID` / :data:`OTHER_CLIENT_SECRET` on 9900001): a public contract, like the
built-in users.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from conformance.errors import ConfigurationError
from conformance.resources import load_yaml
from conformance.simulator.clock import MAX_TIME_SCALE, MIN_TIME_SCALE
from conformance.simulator.egress import CallbackHosts
from conformance.simulator.models import Account, ApiCredential, Application, Method, PhoneNumber
from conformance.simulator.store import DEFAULT_MAX_ENDED_CALLS

__all__ = [
    "AUTH_MODES",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PASSWORD",
    "DEFAULT_TOKEN_LIFETIME",
    "DEFAULT_USERNAME",
    "OTHER_ACCOUNT_ID",
    "OTHER_APPLICATION_ID",
    "OTHER_CLIENT_ID",
    "OTHER_CLIENT_SECRET",
    "OTHER_PASSWORD",
    "OTHER_USERNAME",
    "AccountsFile",
    "ApiCredential",
    "AuthMode",
    "SimulatorConfig",
    "account_from_json",
    "account_to_json",
    "application_from_json",
    "application_to_json",
    "check_credentials",
    "credential_from_json",
    "credential_to_json",
    "default_accounts",
    "default_credentials",
    "load_accounts",
    "parse_accounts",
    "parse_credentials",
    "read_accounts_file",
]

DEFAULT_ACCOUNT_ID = "9900000"
DEFAULT_USERNAME = "bw-user"
DEFAULT_PASSWORD = "bw-pass"  # noqa: S105 - a documented simulator credential
DEFAULT_APPLICATION_ID = "11111111-1111-4111-8111-111111111111"
OTHER_ACCOUNT_ID = "9900001"
OTHER_USERNAME = "bw-other"
OTHER_PASSWORD = "bw-other-pass"  # noqa: S105 - a documented simulator credential
OTHER_APPLICATION_ID = "22222222-2222-4222-8222-222222222222"
# Built-in OAuth2 client credentials (a public contract, like the users above).
DEFAULT_CLIENT_ID = "bw-client"
DEFAULT_CLIENT_SECRET = "bw-client-secret"  # noqa: S105 - a documented simulator credential
OTHER_CLIENT_ID = "bw-other-client"
OTHER_CLIENT_SECRET = "bw-other-client-secret"  # noqa: S105 - a documented simulator credential

# How long an access token lives, in seconds.  Bandwidth documents no figure; its CLI
# (internal/auth/oauth.go) assumes one hour when a token reply has no expires_in, so one hour it is.
DEFAULT_TOKEN_LIFETIME = 3600

AuthMode = Literal["oauth2", "basic", "both"]
AUTH_MODES: tuple[AuthMode, ...] = get_args(AuthMode)

# The built-in credentials.  SimulatorConfig recognises this very tuple (by identity) as "not given"
# and keeps only the accounts of it that the config has.
_BUILTIN_CREDENTIALS = (
    ApiCredential(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ("9900000",)),
    ApiCredential(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, ("9900001",)),
)

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_METHODS = ("GET", "POST")

# Bounds of what an accounts file or the control API may set, so no value can overflow a
# computation later (a rate of 1e-320 calls per second makes an infinite wait) or exhaust memory.
MAX_CALLS_PER_SECOND = 100_000.0
MIN_CALLS_PER_SECOND = 0.001
MAX_CONCURRENT_CALLS = 1_000_000
MAX_NUMBERS = 200_000  # phone numbers in one document (a range expands to one record per number)
MAX_ID = 256  # characters of an account, application or client id, a name or a username
MAX_SECRET = 1024

# How long an idle keep-alive connection stays open.  uvicorn's default is 5 s, which resets pooled
# clients that pause longer; nginx's default is 75 s (and cloud load balancers keep 60 s or more),
# so a client tuned for a real service never reuses a connection the simulator has dropped.
DEFAULT_KEEP_ALIVE = 75
DEFAULT_HEADER_TIMEOUT = 30.0  # to receive a request's line and headers
DEFAULT_BODY_TIMEOUT = 60.0  # to receive a whole request body
DEFAULT_MAX_CONNECTIONS = 1000  # open client connections; more are answered 503 and closed


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a simulator needs to start.

    ``time_scale`` ``None`` means virtual time (timers complete instantly when nothing else is
    pending); ``1.0`` is real time.  ``calls_per_second`` and ``max_concurrent_calls`` are
    defaults for accounts that do not set their own (``None``: unlimited).

    ``credentials`` are the OAuth2 clients; left out, the two built-in ones, each kept only when
    its account is among ``accounts``.  ``auth_mode`` says how Voice API requests may
    authenticate: ``"both"`` (HTTP Basic API users and Bearer tokens; Basic requests are marked
    ``legacy-basic-auth`` in the request log), ``"oauth2"`` (Bearer only, as the real platform from
    2026-12-02) or ``"basic"`` (no tokens).  ``token_lifetime`` is the seconds an access token
    lives, measured on the wall clock (``time.time()``), not the simulator's virtual clock: clients
    compute expiry on wall time.

    Connections: ``control_token`` (``None``: ``/_sim/`` answers loopback clients naming a loopback
    ``Host`` only; else every control request needs ``Authorization: Bearer <token>``);
    ``keep_alive`` seconds an idle connection stays open; ``header_timeout`` / ``body_timeout``
    seconds for a request's headers / whole body to arrive (408 after); ``max_connections`` open
    at once (503 beyond, and never more than half the process's descriptor limit).
    """

    host: str = "127.0.0.1"
    port: int = 0
    accounts: tuple[Account, ...] = field(default_factory=lambda: tuple(default_accounts()))
    time_scale: float | None = None
    calls_per_second: float | None = None
    max_concurrent_calls: int | None = None
    log_requests: bool = False
    max_body_bytes: int = 1024 * 1024
    callback_hosts: CallbackHosts = "loopback"  # where webhooks and PlayAudio fetches may go
    credentials: tuple[ApiCredential, ...] = field(default=_BUILTIN_CREDENTIALS)
    auth_mode: AuthMode = "both"
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME
    max_ended_calls: int = DEFAULT_MAX_ENDED_CALLS  # ended calls (and recordings) kept; oldest go first
    control_token: str | None = None
    keep_alive: int = DEFAULT_KEEP_ALIVE
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"port {self.port} is outside 0-65535", reason="bad-port")
        if self.time_scale is not None and not MIN_TIME_SCALE <= self.time_scale <= MAX_TIME_SCALE:
            raise ConfigurationError(
                f"time_scale must be from {MIN_TIME_SCALE:g} to {MAX_TIME_SCALE:g} or None, "
                f"got {self.time_scale}",
                reason="bad-time-scale",
            )
        self._check_connection_settings()
        if self.callback_hosts not in ("loopback", "any"):
            raise ConfigurationError(
                f"callback_hosts must be 'loopback' or 'any', got {self.callback_hosts!r}",
                reason="bad-callback-hosts",
            )
        cps = self.calls_per_second
        if cps is not None and not MIN_CALLS_PER_SECOND <= cps <= MAX_CALLS_PER_SECOND:
            raise ConfigurationError(
                f"calls_per_second must be from {MIN_CALLS_PER_SECOND:g} to {MAX_CALLS_PER_SECOND:g} or None",
                reason="bad-rate-limit",
            )
        if (
            self.max_concurrent_calls is not None
            and not 1 <= self.max_concurrent_calls <= MAX_CONCURRENT_CALLS
        ):
            raise ConfigurationError(
                f"max_concurrent_calls must be from 1 to {MAX_CONCURRENT_CALLS} or None",
                reason="bad-rate-limit",
            )
        if self.auth_mode not in AUTH_MODES:
            raise ConfigurationError(
                f"auth_mode must be one of {', '.join(AUTH_MODES)}, got {self.auth_mode!r}",
                reason="bad-auth-mode",
            )
        lifetime = self.token_lifetime
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not 1 <= lifetime <= 31_536_000:
            raise ConfigurationError(
                f"token_lifetime must be a whole number of seconds from 1 to 31536000, got {lifetime!r}",
                reason="bad-token-lifetime",
            )
        cap = self.max_ended_calls
        if isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= 10_000_000:
            raise ConfigurationError(
                f"max_ended_calls must be a whole number from 0 to 10000000, got {cap!r:.40}",
                reason="bad-max-calls",
            )
        account_ids = {a.id for a in self.accounts}
        if self.credentials is _BUILTIN_CREDENTIALS:
            kept = tuple(c for c in _BUILTIN_CREDENTIALS if set(c.accounts) <= account_ids)
            if len(kept) != len(_BUILTIN_CREDENTIALS):
                object.__setattr__(self, "credentials", kept)
        else:
            object.__setattr__(self, "credentials", tuple(self.credentials))
            check_credentials(self.credentials, account_ids, "credentials", reason="bad-credentials")

    def _check_connection_settings(self) -> None:
        token = self.control_token
        if token is not None and (
            not isinstance(token, str) or not 16 <= len(token) <= MAX_SECRET or not _TOKEN.fullmatch(token)
        ):
            raise ConfigurationError(
                f"the control token must be 16 to {MAX_SECRET} visible ASCII characters (no spaces)",
                reason="bad-control-token",
            )
        alive = self.keep_alive
        if isinstance(alive, bool) or not isinstance(alive, int) or not 1 <= alive <= 3600:
            raise ConfigurationError(
                f"keep_alive must be a whole number of seconds from 1 to 3600, got {alive!r:.40}",
                reason="bad-timeout",
            )
        for name, low, high in (
            ("header_timeout", 0.05, 3600.0),
            ("body_timeout", 0.05, 3600.0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ConfigurationError(
                    f"{name} must be a number of seconds from {low:g} to {high:g}, got {value!r:.40}",
                    reason="bad-timeout",
                )
        conns = self.max_connections
        if isinstance(conns, bool) or not isinstance(conns, int) or not 1 <= conns <= 1_000_000:
            raise ConfigurationError(
                f"max_connections must be a whole number from 1 to 1000000, got {conns!r:.40}",
                reason="bad-max-connections",
            )


_TOKEN = re.compile(r"[!-~]+")


def default_accounts() -> list[Account]:
    """The two accounts the simulator has when no accounts file is given (issue 2 §3)."""
    main_app = Application(id=DEFAULT_APPLICATION_ID, name="default")
    main = Account(
        id=DEFAULT_ACCOUNT_ID,
        username=DEFAULT_USERNAME,
        password=DEFAULT_PASSWORD,
        applications={main_app.id: main_app},
        numbers={
            f"+191955501{i:02d}": PhoneNumber(f"+191955501{i:02d}", DEFAULT_APPLICATION_ID)
            for i in range(100)
        },
    )
    other_app = Application(id=OTHER_APPLICATION_ID, name="other")
    other = Account(
        id=OTHER_ACCOUNT_ID,
        username=OTHER_USERNAME,
        password=OTHER_PASSWORD,
        applications={other_app.id: other_app},
    )
    return [main, other]


def default_credentials() -> list[ApiCredential]:
    """The two built-in OAuth2 credentials, one for each built-in account."""
    return list(_BUILTIN_CREDENTIALS)


# --------------------------------------------------------------------------------------- parsing
def _fail(where: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"{where}: {problem}", reason="bad-accounts")


_SECRET_KEYS = frozenset({"password", "callbackPassword", "clientSecret"})


def _str(
    obj: Mapping[str, Any], key: str, where: str, *, required: bool = False, max_len: int | None = None
) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _fail(where, f"'{key}' is required")
        return None
    if isinstance(value, int) and not isinstance(value, bool) and key == "id" and 0 <= value < 10**MAX_ID:
        value = str(value)
    if not isinstance(value, str) or (required and not value):
        raise _fail(where, f"'{key}' must be a non-empty string")
    limit = max_len if max_len is not None else (MAX_SECRET if key in _SECRET_KEYS else MAX_ID)
    if len(value) > limit:
        raise _fail(where, f"'{key}' must be at most {limit} characters")
    return value


def _required(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _str(obj, key, where, required=True)
    if value is None:  # pragma: no cover - _str raised already
        raise _fail(where, f"'{key}' is required")
    return value


def _method(obj: Mapping[str, Any], key: str, where: str) -> Method:
    value = obj.get(key, "POST")
    if value is None:
        return "POST"
    if not isinstance(value, str) or value.upper() not in _METHODS:
        raise _fail(where, f"'{key}' must be GET or POST")
    return "GET" if value.upper() == "GET" else "POST"


def _url(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _str(obj, key, where, max_len=2048)
    if value is not None and not value.startswith(("http://", "https://")):
        raise _fail(where, f"'{key}' must be an http(s) URL of at most 2048 characters")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, "must be an object")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(where, "must be a list")
    return value


def application_from_json(raw: Any, where: str = "application") -> Application:
    obj = _mapping(raw, where)
    app_id = _required(obj, "id", where)
    timeout = obj.get("callbackTimeout", 15.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 25:
        raise _fail(where, "'callbackTimeout' must be a number from 1 to 25")
    return Application(
        id=app_id,
        name=_str(obj, "name", where) or "",
        call_initiated_callback_url=_url(obj, "callInitiatedCallbackUrl", where),
        call_initiated_method=_method(obj, "callInitiatedMethod", where),
        call_initiated_fallback_url=_url(obj, "callInitiatedFallbackUrl", where),
        call_initiated_fallback_method=_method(obj, "callInitiatedFallbackMethod", where),
        call_status_callback_url=_url(obj, "callStatusCallbackUrl", where),
        call_status_method=_method(obj, "callStatusMethod", where),
        callback_username=_str(obj, "callbackUsername", where),
        callback_password=_str(obj, "callbackPassword", where),
        callback_timeout=float(timeout),
    )


def application_to_json(app: Application) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "callInitiatedCallbackUrl": app.call_initiated_callback_url,
        "callInitiatedMethod": app.call_initiated_method,
        "callInitiatedFallbackUrl": app.call_initiated_fallback_url,
        "callInitiatedFallbackMethod": app.call_initiated_fallback_method,
        "callStatusCallbackUrl": app.call_status_callback_url,
        "callStatusMethod": app.call_status_method,
        "callbackUsername": app.callback_username,
        "callbackPassword": "*****" if app.callback_password else None,
        "callbackTimeout": app.callback_timeout,
    }


def _numbers(
    raw: Any, where: str, applications: Mapping[str, Application], budget: list[int]
) -> dict[str, PhoneNumber]:
    """The numbers of one account; ``budget`` holds how many more the whole document may have."""
    numbers: dict[str, PhoneNumber] = {}
    for i, item in enumerate(_list(raw, where)):
        here = f"{where}[{i}]"
        if isinstance(item, str):
            item = {"number": item}
        obj = _mapping(item, here)
        app_id = _str(obj, "applicationId", here)
        if app_id is not None and app_id not in applications:
            raise _fail(here, f"applicationId {app_id!r} is not an application of this account")
        if "range" in obj:
            bounds = obj["range"]
            if (
                not isinstance(bounds, list)
                or len(bounds) != 2
                or not all(isinstance(b, str) and _E164.match(b) for b in bounds)
            ):
                raise _fail(here, "'range' must be two E.164 numbers [first, last]")
            first, last = int(bounds[0][1:]), int(bounds[1][1:])
            if last < first or last - first > 100_000:
                raise _fail(here, "'range' must run upwards and hold at most 100001 numbers")
            _spend(budget, last - first + 1, here)
            for n in range(first, last + 1):
                numbers[f"+{n}"] = PhoneNumber(f"+{n}", app_id)
            continue
        number = _required(obj, "number", here)
        if not _E164.match(number):
            raise _fail(here, f"number {number!r:.40} is not E.164 (+ and up to 15 digits)")
        _spend(budget, 1, here)
        numbers[number] = PhoneNumber(number, app_id)
    return numbers


def _spend(budget: list[int], count: int, where: str) -> None:
    budget[0] -= count
    if budget[0] < 0:
        raise _fail(where, f"a document may hold at most {MAX_NUMBERS} phone numbers")


def _positive(obj: Mapping[str, Any], key: str, where: str, kind: type) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    ok_types = (int,) if kind is int else (int, float)
    low, high = (1, MAX_CONCURRENT_CALLS) if kind is int else (MIN_CALLS_PER_SECOND, MAX_CALLS_PER_SECOND)
    if isinstance(value, bool) or not isinstance(value, ok_types) or not low <= value <= high:
        what = "integer" if kind is int else "number"
        raise _fail(where, f"'{key}' must be a positive {what} (from {low:g} to {high:g}) or null")
    return kind(value)


def account_from_json(raw: Any, where: str = "account", budget: list[int] | None = None) -> Account:
    obj = _mapping(raw, where)
    account_id = _required(obj, "id", where)
    username = _required(obj, "username", where)
    password = _required(obj, "password", where)
    applications: dict[str, Application] = {}
    for i, app_raw in enumerate(_list(obj.get("applications"), f"{where}.applications")):
        app = application_from_json(app_raw, f"{where}.applications[{i}]")
        if app.id in applications:
            raise _fail(f"{where}.applications[{i}]", f"duplicate application id {app.id!r}")
        applications[app.id] = app
    numbers = _numbers(obj.get("numbers"), f"{where}.numbers", applications, budget or [MAX_NUMBERS])
    return Account(
        id=account_id,
        username=username,
        password=password,
        applications=applications,
        numbers=numbers,
        calls_per_second=_positive(obj, "callsPerSecond", where, float),
        max_concurrent_calls=_positive(obj, "maxConcurrentCalls", where, int),
    )


def account_to_json(account: Account) -> dict[str, Any]:
    """The control API's view of an account (passwords masked)."""
    return {
        "id": account.id,
        "username": account.username,
        "password": "*****",
        "callsPerSecond": account.calls_per_second,
        "maxConcurrentCalls": account.max_concurrent_calls,
        "applications": [application_to_json(a) for a in account.applications.values()],
        "numbers": [
            {"number": n.number, "applicationId": n.application_id} for n in account.numbers.values()
        ],
    }


def parse_accounts(document: Any, where: str = "accounts file") -> list[Account]:
    """Accounts from an already-parsed document (``{"accounts": [...]}``)."""
    obj = _mapping(document, where)
    raw_accounts = obj.get("accounts")
    if not isinstance(raw_accounts, list) or not raw_accounts:
        raise _fail(where, "'accounts' must be a non-empty list")
    budget = [MAX_NUMBERS]
    accounts = [account_from_json(a, f"{where}: accounts[{i}]", budget) for i, a in enumerate(raw_accounts)]
    seen_ids: set[str] = set()
    seen_users: set[str] = set()
    owner: dict[str, str] = {}
    for account in accounts:
        if account.id in seen_ids:
            raise _fail(where, f"duplicate account id {account.id!r}")
        if account.username in seen_users:
            raise _fail(where, f"duplicate username {account.username!r}")
        seen_ids.add(account.id)
        seen_users.add(account.username)
        for number in account.numbers:
            if number in owner:
                raise _fail(where, f"number {number} belongs to accounts {owner[number]} and {account.id}")
            owner[number] = account.id
    return accounts


# --------------------------------------------------------------------------------------- credentials


def credential_from_json(raw: Any, where: str = "credential") -> ApiCredential:
    """One ``{clientId, clientSecret, accounts}`` entry (the accounts are not checked to exist here)."""
    obj = _mapping(raw, where)
    client_id = _required(obj, "clientId", where)
    if len(client_id) > MAX_ID or ":" in client_id or not client_id.isprintable():
        raise _fail(where, f"'clientId' must be at most {MAX_ID} printable characters without ':'")
    secret = _required(obj, "clientSecret", where)
    if len(secret) > MAX_SECRET or not secret.isprintable():
        raise _fail(where, f"'clientSecret' must be at most {MAX_SECRET} printable characters")
    if "accounts" not in obj:
        raise _fail(where, "'accounts' is required (a list of account ids)")
    accounts: list[str] = []
    for i, item in enumerate(_list(obj["accounts"], f"{where}.accounts")):
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item:
            raise _fail(f"{where}.accounts[{i}]", "must be an account id")
        if item in accounts:
            raise _fail(f"{where}.accounts[{i}]", f"account {item!r} is listed twice")
        accounts.append(item)
    return ApiCredential(client_id, secret, tuple(accounts))


def credential_to_json(credential: ApiCredential) -> dict[str, Any]:
    """The control API's view of a credential (the secret masked)."""
    return {"clientId": credential.client_id, "clientSecret": "*****", "accounts": list(credential.accounts)}


def check_credentials(
    credentials: Sequence[ApiCredential],
    account_ids: Container[str],
    where: str,
    *,
    reason: str = "bad-accounts",
) -> None:
    """Raise :class:`ConfigurationError` for a repeated client id or an account that does not exist."""
    seen: set[str] = set()
    for credential in credentials:
        if not isinstance(credential, ApiCredential):
            raise ConfigurationError(f"{where}: {credential!r} is not an ApiCredential", reason=reason)
        if credential.client_id in seen:
            raise ConfigurationError(f"{where}: duplicate clientId {credential.client_id!r}", reason=reason)
        seen.add(credential.client_id)
        for account_id in credential.accounts:
            if account_id not in account_ids:
                raise ConfigurationError(
                    f"{where}: credential {credential.client_id!r} covers account {account_id!r}, "
                    "which does not exist",
                    reason=reason,
                )


def parse_credentials(
    document: Any, account_ids: Container[str], where: str = "accounts file"
) -> list[ApiCredential]:
    """The ``credentials`` of an already-parsed document (none when the key is absent)."""
    obj = _mapping(document, where)
    raw = _list(obj.get("credentials"), f"{where}: credentials")
    credentials = [credential_from_json(c, f"{where}: credentials[{i}]") for i, c in enumerate(raw)]
    check_credentials(credentials, account_ids, where)
    return credentials


@dataclass(frozen=True)
class AccountsFile:
    """What an accounts file holds: accounts and the OAuth2 credentials covering them."""

    accounts: tuple[Account, ...]
    credentials: tuple[ApiCredential, ...]


def read_accounts_file(path: str | Path | None = None) -> AccountsFile:
    """Accounts and credentials from a JSON or YAML file; the built-in ones when ``path`` is ``None``.

    Raises :class:`~conformance.errors.ConfigurationError` naming the file and the problem.
    """
    if path is None:
        return AccountsFile(tuple(default_accounts()), tuple(default_credentials()))
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"accounts file {file} does not exist", reason="bad-accounts") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"accounts file {file} cannot be read: {exc}", reason="bad-accounts"
        ) from None
    try:
        document = json.loads(text) if file.suffix.lower() == ".json" else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"accounts file {file} is not valid JSON/YAML: {exc}", reason="bad-accounts"
        ) from None
    where = f"accounts file {file}"
    accounts = parse_accounts(document, where=where)
    credentials = parse_credentials(document, {a.id for a in accounts}, where=where)
    return AccountsFile(tuple(accounts), tuple(credentials))


def load_accounts(path: str | Path | None = None) -> list[Account]:
    """Accounts from a JSON or YAML file, or the two default accounts when ``path`` is ``None``.

    Raises :class:`~conformance.errors.ConfigurationError` naming the file and the problem (its
    ``credentials`` are checked too; :func:`read_accounts_file` returns them).
    """
    return list(read_accounts_file(path).accounts)
