"""The target under test: a base URL with credentials, or the embedded simulator started on demand.

:func:`open_target` is also the run's **preflight**: before any test runs it checks that the target
answers, says what answers there (``/health``), resolves the token endpoint, fills in what a
simulator's ``/_sim/`` control API can tell (application, numbers) and proves the credentials with one
harmless authenticated request.  Every problem it finds is the user's setup, never the target's
contract: :class:`~conformance.errors.ConfigurationError` or
:class:`~conformance.errors.TargetUnreachableError` (``bw-conformance run`` exits 2).
:func:`missing_settings` names what a selected suite still lacks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance.auth import AuthenticationFailedError, Authenticator, default_token_url
from conformance.errors import ConfigurationError, TargetUnreachableError
from conformance.settings import ENVIRONMENT, Settings
from conformance.tls import check_requests_bundle, client_context, proxy_for

__all__ = ["Target", "missing_settings", "open_target", "probe", "require", "server_description"]

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Target:
    """A reachable Voice API target."""

    settings: Settings  # with ``target`` set to the base URL actually used, ``token_url`` resolved
    has_control_api: bool  # the simulator's /_sim/ control API is available
    authenticator: Authenticator = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    server: str = "not the simulator"  # what answers there (from /health), for the run's header
    discovered: tuple[str, ...] = ()  # settings filled in from the control API

    def __post_init__(self) -> None:
        if self.authenticator is None:
            object.__setattr__(self, "authenticator", Authenticator.from_settings(self.settings))

    @property
    def base_url(self) -> str:
        assert self.settings.target is not None
        return self.settings.target

    @property
    def account_url(self) -> str:
        """``{base}/accounts/{accountId}``: the prefix of every Voice operation."""
        return f"{self.base_url}/accounts/{self.settings.account_id}"

    @property
    def control_headers(self) -> dict[str, str]:
        """Headers for the simulator's ``/_sim/`` control API (its token, when one is set)."""
        return self.settings.control_headers

    @property
    def is_local(self) -> bool:
        """The target runs on this machine (so it can reach the suite's sink on 127.0.0.1)."""
        return urlsplit(self.base_url).hostname in _LOCAL_HOSTS

    def client(self, **kwargs: object) -> httpx.Client:
        """An HTTP client for the target, authenticated as the run is (Bearer token or Basic)."""
        kwargs.setdefault("timeout", self.settings.request_timeout)
        kwargs.setdefault("verify", client_context())
        return httpx.Client(base_url=self.base_url, auth=self.authenticator.httpx_auth, **kwargs)  # type: ignore[arg-type]

    def control_client(self, timeout: float = 10.0) -> httpx.Client:
        """An HTTP client for the simulator's ``/_sim/`` control API (its token, not the run's auth)."""
        return httpx.Client(
            base_url=self.base_url, headers=self.control_headers, timeout=timeout, verify=client_context()
        )


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        value = json.loads(response.content[:1_000_000])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def probe(base_url: str, timeout: float = 10.0, headers: Mapping[str, str] | None = None) -> bool:
    """Check that ``base_url`` answers HTTP; return whether it offers the ``/_sim/`` control API.

    ``headers`` are the control API's (its Bearer token, see ``Settings.control_headers``).  Raises
    :class:`TargetUnreachableError` when nothing answers, and :class:`ConfigurationError` when a
    simulator's control API is there but refuses this client (a token is needed, or is wrong, or
    the simulator answers control requests from its own machine only).
    """
    try:
        with httpx.Client(timeout=timeout, verify=client_context()) as client:
            response = client.get(f"{base_url}/_sim/accounts", headers=dict(headers or {}))
    except httpx.HTTPError as exc:
        proxy = proxy_for(base_url)
        through = f" (through the proxy of {proxy}: check it, or list the host in NO_PROXY)" if proxy else ""
        raise TargetUnreachableError(
            f"target {base_url} is unreachable: {type(exc).__name__}: {exc}{through}"
        ) from exc
    _refused_control(base_url, response, bool(headers))
    return response.status_code == 200 and _json_object(response) is not None


def _refused_control(base_url: str, response: httpx.Response, has_token: bool) -> None:
    """Raise :class:`ConfigurationError` when a simulator's control API refused this client."""
    if response.status_code == 401 and "simulator control" in response.headers.get("www-authenticate", ""):
        if has_token:
            raise ConfigurationError(
                f"the simulator at {base_url} refused BW_SIM_CONTROL_TOKEN: it is not the token "
                "it was started with (serve --control-token)",
                reason="control-token",
            )
        raise ConfigurationError(
            f"the simulator at {base_url} protects its control API (/_sim/) with a token: set "
            "BW_SIM_CONTROL_TOKEN to the value given to serve --control-token",
            reason="control-token",
        )
    body = _json_object(response) if response.status_code == 403 else None
    if body is not None and "control API" in str(body.get("description") or body.get("message") or ""):
        raise ConfigurationError(
            f"the simulator at {base_url} answers control requests (/_sim/) only from its own "
            "machine: start it with serve --control-token TOKEN and set BW_SIM_CONTROL_TOKEN",
            reason="control-refused",
        )


def server_description(base_url: str, timeout: float = 10.0) -> str:
    """What answers at ``base_url``: ``bw-conformance simulator 0.1.0 (auth both)``, or not the simulator."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    try:
        response = httpx.get(f"{origin}/health", timeout=timeout, verify=client_context())
    except httpx.HTTPError:
        return "not the simulator"
    health = _json_object(response) if response.status_code == 200 else None
    if health is None or not isinstance(health.get("version"), str):
        return "not the simulator"
    text = f"bw-conformance simulator {health['version'][:40]}"
    if isinstance(health.get("auth"), str):
        text += f" (auth {health['auth'][:20]})"
    return text


def _discover(settings: Settings, timeout: float) -> tuple[Settings, tuple[str, ...]]:
    """Fill in the application, caller and loopback numbers from a simulator's control API."""
    wanted = ("application_id", "number", "loopback_number")
    if all(getattr(settings, name) for name in wanted) or not settings.account_id:
        return settings, ()
    try:
        response = httpx.get(
            f"{settings.target}/_sim/accounts/{settings.account_id}",
            headers=settings.control_headers,
            timeout=timeout,
            verify=client_context(),
        )
    except httpx.HTTPError:
        return settings, ()
    account = _json_object(response) if response.status_code == 200 else None
    if account is None:
        return settings, ()
    applications = [a.get("id") for a in account.get("applications") or [] if isinstance(a, dict)]
    application_id = settings.application_id or next((a for a in applications if isinstance(a, str)), None)
    routed: list[str] = [
        str(n["number"])
        for n in account.get("numbers") or []
        if isinstance(n, dict)
        and isinstance(n.get("number"), str)
        and n.get("applicationId") == application_id
    ]
    found: dict[str, Any] = {}
    if application_id and not settings.application_id:
        found["application_id"] = application_id
    number = settings.number or (routed[0] if routed else None)
    if number and not settings.number:
        found["number"] = number
    spare = [n for n in routed if n != number]
    if spare and not settings.loopback_number:
        found["loopback_number"] = spare[0]
    return replace(settings, **found), tuple(sorted(found))


def _check_credentials(target: Target) -> None:
    """One harmless authenticated request (getStatistics); 401/403 is a setup error naming who and where."""
    settings = target.settings
    url = f"{target.account_url}/statistics"
    try:
        with target.client() as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        raise TargetUnreachableError(
            f"target {target.base_url} stopped answering: {type(exc).__name__}: {exc}"
        ) from exc
    if response.status_code in (401, 403):
        body = response.content[:300].decode("utf-8", "replace").replace("\n", " ")
        raise AuthenticationFailedError(
            f"authentication failed for {settings.principal} on account {settings.account_id} at "
            f"{target.base_url}: {response.status_code} {body}"
        )


# What each area of the shipped suites needs, beyond an account and credentials.
_NEEDS = {
    "api": ("application_id", "number"),
    "bxml": ("application_id", "number"),
    "flows": ("application_id", "number"),
}


def missing_settings(target: Target, areas: Iterable[str]) -> list[str]:
    """One line per setting the selected ``areas`` need and the settings lack (empty: nothing missing)."""
    settings = target.settings
    needed: dict[str, list[str]] = {}
    for area in sorted(set(areas)):
        names = list(_NEEDS.get(area, ()))
        if area in ("bxml", "flows") and not target.has_control_api:
            names.append("loopback_number")
            if not target.is_local:
                names.append("callback_base_url")
        for name in names:
            if not getattr(settings, name):
                needed.setdefault(name, []).append(area)
    why = {
        "application_id": "a voice application of the account for created calls",
        "number": "a caller number of the account",
        "loopback_number": "a callee number whose application sends initiate to the sink (README, loopback)",
        "callback_base_url": "a URL at which the target reaches this machine's webhook sink",
    }
    return [
        f"set {ENVIRONMENT[name]}: {why[name]}, needed by the {' and '.join(areas_)} suite"
        + ("s" if len(areas_) > 1 else "")
        for name, areas_ in needed.items()
    ]


@contextmanager
def open_target(
    settings: Settings, *, check_credentials: bool = True, simulator_process: bool = False
) -> Iterator[Target]:
    """Yield a :class:`Target` for ``settings``, starting the embedded simulator when none is given.

    The simulator runs in a thread of this process, or with ``simulator_process`` in a process of
    its own (:class:`~conformance.simulator.process.SimulatorProcess`: the same simulator, on
    another core).  The preflight: the target answers, what answers there, the token URL, discovery
    through the control API, and (``check_credentials``) one authenticated request.
    """
    with ExitStack() as stack:
        if settings.target is None:
            if simulator_process:
                from conformance.simulator.process import SimulatorProcess

                base_url = stack.enter_context(SimulatorProcess()).base_url
            else:
                from conformance.simulator import Simulator

                base_url = stack.enter_context(Simulator()).base_url
            settings = settings.with_target(base_url)
        assert settings.target is not None
        if settings.target.lower().startswith("https:"):
            check_requests_bundle()
        timeout = min(settings.request_timeout, 10.0)
        has_control_api = probe(settings.target, timeout, settings.control_headers)
        if settings.token_url is None:
            token_url = default_token_url(settings.target, is_simulator=has_control_api)
            settings = replace(settings, token_url=token_url)
        discovered: tuple[str, ...] = ()
        if has_control_api:
            settings, discovered = _discover(settings, timeout)
        target = Target(
            settings=settings,
            has_control_api=has_control_api,
            server=server_description(settings.target or "", timeout),
            discovered=discovered,
        )
        if check_credentials:
            _check_credentials(target)
        yield target


def require(target: Target, areas: Iterable[str]) -> None:
    """Raise :class:`ConfigurationError` naming every setting the selected ``areas`` lack."""
    missing = missing_settings(target, areas)
    if missing:
        raise ConfigurationError(
            f"target {target.base_url} is not fully configured:\n  " + "\n  ".join(missing),
            reason="missing-setting",
        )
