"""Credentials of the account under test and of a second account for cross-account checks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx

from conformance.settings import Settings

__all__ = ["Credentials", "SecondAccount", "find_second_account", "primary_credentials"]

# The embedded simulator's documented second account (README, "The embedded simulator").
_SIM_OTHER_ACCOUNT = ("9900001", "bw-other", "bw-other-pass")


@dataclass(frozen=True)
class Credentials:
    """An account id with the Basic-auth credentials that own it."""

    account_id: str
    username: str
    password: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)


@dataclass(frozen=True)
class SecondAccount:
    """The outcome of looking for a second account: credentials, or why there are none."""

    credentials: Credentials | None
    reason: str  # where the credentials came from, or why there are none


def primary_credentials(settings: Settings) -> Credentials:
    """The credentials of the account under test."""
    return Credentials(settings.account_id or "", settings.username or "", settings.password or "")


def _works(base_url: str, credentials: Credentials, timeout: float) -> bool:
    url = f"{base_url}/accounts/{credentials.account_id}/statistics"
    try:
        response = httpx.get(url, auth=credentials.auth, timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _from_control_api(base_url: str, primary: Credentials, timeout: float) -> SecondAccount:
    account_id, username, password = _SIM_OTHER_ACCOUNT
    documented = Credentials(account_id, username, password)
    if documented.account_id != primary.account_id and _works(base_url, documented, timeout):
        return SecondAccount(documented, f"the simulator's default account {account_id}")
    # Not there (a custom accounts file): add one through the control API.
    new_id = str(9_900_000 + secrets.randbelow(90_000) + 10_000)
    created = Credentials(new_id, f"bw-conformance-{new_id}", secrets.token_urlsafe(12))
    body = {"id": created.account_id, "username": created.username, "password": created.password}
    try:
        httpx.put(f"{base_url}/_sim/accounts/{new_id}", json=body, timeout=timeout)
    except httpx.HTTPError as exc:
        return SecondAccount(None, f"the control API refused a second account: {exc}")
    if _works(base_url, created, timeout):
        return SecondAccount(created, f"account {new_id} added through the control API")
    return SecondAccount(None, "the control API did not accept a second account")


def find_second_account(
    settings: Settings, *, base_url: str, has_control_api: bool, timeout: float = 10.0
) -> SecondAccount:
    """Credentials of an account other than the one under test, for 403/404 across accounts.

    Sources, in order: settings ``other_account_id``/``other_username``/``other_password`` when the
    settings carry them; the simulator's second account (default ``9900001``) or one added through its
    ``/_sim/`` control API.  Otherwise no credentials, with the reason.
    """
    primary = primary_credentials(settings)
    names = ("other_account_id", "other_username", "other_password")
    other = tuple(getattr(settings, name, None) for name in names)
    if all(isinstance(value, str) and value for value in other):
        account_id, username, password = (str(value) for value in other)
        return SecondAccount(Credentials(account_id, username, password), "the configured second account")
    if has_control_api:
        return _from_control_api(base_url, primary, timeout)
    return SecondAccount(
        None,
        "cross-account checks need a second account: the target has no /_sim/ control API and no "
        "second account's id, username and password are configured",
    )
