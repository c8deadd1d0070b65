"""Credentials of the account under test and of a second account for cross-account checks.

A :class:`Credentials` value is an account id with what proves it in the run's auth mode: an API user
and password (legacy Basic) or OAuth2 client credentials.  Each one owns one
:class:`~conformance.auth.Authenticator`, so a second account's token is fetched once and reused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import httpx

from conformance.auth import Authenticator
from conformance.errors import ConformanceError
from conformance.settings import AuthMode, Settings
from conformance.tls import client_context

__all__ = ["Credentials", "SecondAccount", "find_second_account", "primary_credentials"]

# The embedded simulator's documented second account (README, "The embedded simulator"): its legacy
# API user and its OAuth2 client.
_SIM_OTHER_ACCOUNT_ID = "9900001"
_SIM_OTHER_USER = ("bw-other", "bw-other-pass")
_SIM_OTHER_CLIENT = ("bw-other-client", "bw-other-client-secret")


@dataclass(frozen=True)
class Credentials:
    """An account id with the credentials that own it (``mode`` says which are used)."""

    account_id: str
    username: str = ""
    password: str = field(default="", repr=False)
    mode: AuthMode = "basic"
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    token_url: str | None = None
    timeout: float = 30.0
    _authenticator: Authenticator = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        authenticator = Authenticator(
            mode=self.mode,
            username=self.username,
            password=self.password,
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_url=self.token_url,
            timeout=self.timeout,
        )
        object.__setattr__(self, "_authenticator", authenticator)

    @property
    def authenticator(self) -> Authenticator:
        """The authenticator of these credentials (one token per process, refreshed when needed)."""
        return self._authenticator

    @property
    def principal(self) -> str:
        """Who these credentials are, for messages: ``client id X`` or ``user X``."""
        return f"client id {self.client_id}" if self.mode == "oauth2" else f"user {self.username}"

    @property
    def auth(self) -> httpx.Auth:
        """An ``httpx`` auth sending these credentials' ``Authorization`` header."""
        return self._authenticator.httpx_auth


@dataclass(frozen=True)
class SecondAccount:
    """The outcome of looking for a second account: credentials, or why there are none."""

    credentials: Credentials | None
    reason: str  # where the credentials came from, or why there are none


def primary_credentials(settings: Settings) -> Credentials:
    """The credentials of the account under test."""
    return Credentials(
        settings.account_id or "",
        username=settings.username or "",
        password=settings.password or "",
        mode=settings.auth,
        client_id=settings.client_id or "",
        client_secret=settings.client_secret or "",
        token_url=settings.token_url,
        timeout=settings.request_timeout,
    )


def _works(base_url: str, credentials: Credentials, timeout: float) -> bool:
    url = f"{base_url}/accounts/{credentials.account_id}/statistics"
    try:
        response = httpx.get(url, auth=credentials.auth, timeout=timeout, verify=client_context())
    except (httpx.HTTPError, ConformanceError):  # unreachable, or no token for these credentials
        return False
    return response.status_code == 200


def _other(
    settings: Settings, account_id: str, user: tuple[str, str], client: tuple[str, str]
) -> Credentials:
    return Credentials(
        account_id,
        username=user[0],
        password=user[1],
        mode=settings.auth,
        client_id=client[0],
        client_secret=client[1],
        token_url=settings.token_url,
        timeout=settings.request_timeout,
    )


def _from_control_api(settings: Settings, base_url: str, timeout: float) -> SecondAccount:
    documented = _other(settings, _SIM_OTHER_ACCOUNT_ID, _SIM_OTHER_USER, _SIM_OTHER_CLIENT)
    if documented.account_id != settings.account_id and _works(base_url, documented, timeout):
        return SecondAccount(documented, f"the simulator's default account {documented.account_id}")
    # Not there (a custom accounts file): add one, and an OAuth2 client for it, through the control API.
    new_id = str(9_900_000 + secrets.randbelow(90_000) + 10_000)
    name = f"bw-conformance-{new_id}"
    created = _other(settings, new_id, (name, secrets.token_urlsafe(12)), (name, secrets.token_urlsafe(24)))
    try:
        account = {"id": new_id, "username": created.username, "password": created.password}
        control = settings.control_headers
        httpx.put(f"{base_url}/_sim/accounts/{new_id}", json=account, headers=control, timeout=timeout)
        if settings.auth == "oauth2":
            client = {"clientSecret": created.client_secret, "accounts": [new_id]}
            httpx.put(
                f"{base_url}/_sim/credentials/{created.client_id}",
                json=client,
                headers=control,
                timeout=timeout,
            )
    except httpx.HTTPError as exc:
        return SecondAccount(None, f"the control API refused a second account: {exc}")
    if _works(base_url, created, timeout):
        return SecondAccount(created, f"account {new_id} added through the control API")
    return SecondAccount(None, "the control API did not accept a second account")


def find_second_account(
    settings: Settings, *, base_url: str, has_control_api: bool, timeout: float = 10.0
) -> SecondAccount:
    """Credentials of an account other than the one under test, for 403/404 across accounts, in the
    run's auth mode (``settings.auth``).

    Sources, in order: the settings' second account (``other_account_id`` with
    ``other_client_id``/``other_client_secret`` for OAuth2, ``other_username``/``other_password`` for
    Basic); the simulator's second account (``9900001``: client ``bw-other-client``, user
    ``bw-other``) or one added through its ``/_sim/`` control API.  Otherwise no credentials, with the
    reason.
    """
    oauth2 = settings.auth == "oauth2"
    names = ("other_client_id", "other_client_secret") if oauth2 else ("other_username", "other_password")
    values = [getattr(settings, name, None) for name in names]
    if settings.other_account_id and all(isinstance(value, str) and value for value in values):
        first, second = (str(value) for value in values)
        pair = (first, second)
        configured = _other(
            settings,
            settings.other_account_id,
            ("", "") if oauth2 else pair,
            pair if oauth2 else ("", ""),
        )
        return SecondAccount(configured, "the configured second account")
    if has_control_api:
        return _from_control_api(settings, base_url, timeout)
    needed = "client id and secret" if oauth2 else "username and password"
    return SecondAccount(
        None,
        "cross-account checks need a second account: the target has no /_sim/ control API and no "
        f"second account's id, {needed} are configured",
    )
