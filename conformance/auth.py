"""Credentials for every request a run sends: OAuth2 client credentials, or legacy HTTP Basic.

Bandwidth decommissions Basic-auth API users on 2026-12-02; from then on a client posts its client id
and secret to the token endpoint (``grant_type=client_credentials``, the id and secret as HTTP Basic)
and sends ``Authorization: Bearer <access_token>`` on every Voice API request.

:class:`Authenticator` holds one token per process, fetched on first use, cached, refreshed one
minute before it expires, and refreshed once more when the target answers 401 saying the token
expired.  Every client of the suite (httpx for the deterministic tests and flows, requests for
schemathesis) takes its ``Authorization`` header from here, through :attr:`Authenticator.httpx_auth`
or :attr:`Authenticator.requests_auth`.

A token endpoint that cannot be reached, refuses the credentials or answers something that is not a
token (an HTML proxy page, a wrong host) is the user's setup, not the target's contract: it raises
:class:`~conformance.errors.ConfigurationError` or :class:`~conformance.errors.TargetUnreachableError`
(exit 2), naming the client id and the token URL but never the secret or a token.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests

from conformance.errors import ConfigurationError, TargetUnreachableError
from conformance.settings import BANDWIDTH_TOKEN_URL, TOKEN_PATH, AuthMode, Settings
from conformance.tls import client_context

__all__ = [
    "REFRESH_MARGIN",
    "AuthenticationFailedError",
    "Authenticator",
    "TokenEndpointError",
    "basic_header",
    "default_token_url",
    "says_token_expired",
]

REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is replaced (as the SDK and the CLI do)
_DEFAULT_LIFETIME = 3600.0  # assumed when the token endpoint gives no expires_in (as Bandwidth's CLI does)
_MAX_TOKEN_REPLY = 64 * 1024


class AuthenticationFailedError(ConfigurationError):
    """The credentials were refused (token endpoint or target): the user's setup, exit 2."""

    reason = "authentication-failed"


class TokenEndpointError(ConfigurationError):
    """The token endpoint answered something that is not an OAuth2 token reply."""

    reason = "token-endpoint"


def basic_header(user: str, password: str) -> str:
    """``Basic base64(user:password)``."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def default_token_url(target: str, *, is_simulator: bool) -> str:
    """The token endpoint for ``target``: a simulator's own (same origin, the real path), else Bandwidth's."""
    if not is_simulator:
        return BANDWIDTH_TOKEN_URL
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}{TOKEN_PATH}"


def says_token_expired(status: int, headers: Any, body: bytes) -> bool:
    """Whether a 401 says the bearer token is no longer good (expired or revoked): worth one refresh."""
    if status != 401:
        return False
    challenge = str(headers.get("www-authenticate", "")).lower()
    if "invalid_token" in challenge or "expired" in challenge:
        return True
    return b"expired" in body[:2000].lower()


@dataclass
class _Token:
    header: str  # "Bearer <access_token>"
    refresh_at: float  # monotonic time after which it is replaced


class Authenticator:
    """The ``Authorization`` header of every request of a run (thread-safe; one token at a time)."""

    def __init__(
        self,
        *,
        mode: AuthMode,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mode: AuthMode = mode
        self._username = username or ""
        self._password = password or ""
        self.client_id = client_id or ""
        self._client_secret = client_secret or ""
        self.token_url = token_url or BANDWIDTH_TOKEN_URL
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self.tokens_fetched = 0  # how many tokens this authenticator asked for (for tests and reports)

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """The authenticator for ``settings`` (their ``token_url`` must be resolved for OAuth2)."""
        return cls(
            mode=settings.auth,
            username=settings.username,
            password=settings.password,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_url=settings.token_url,
            timeout=settings.request_timeout,
        )

    def __repr__(self) -> str:
        return (
            f"Authenticator(mode={self.mode!r}, principal={self.principal!r}, token_url={self.token_url!r})"
        )

    @property
    def principal(self) -> str:
        """Who requests are sent as, for messages: ``client id X`` or ``user X``."""
        return f"client id {self.client_id}" if self.mode == "oauth2" else f"user {self._username}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secrets this authenticator holds, and the current token, for output filters."""
        values = [self._password, self._client_secret]
        if self._token is not None:
            values.append(self._token.header.removeprefix("Bearer "))
        return tuple(v for v in values if v)

    # ------------------------------------------------------------------------------ the header
    def authorization(self) -> str:
        """The ``Authorization`` header value to send now (fetches or refreshes a token if needed)."""
        if self.mode == "basic":
            return basic_header(self._username, self._password)
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.refresh_at:
                token = self._token = self._fetch()
            return token.header

    def reject(self, header: str) -> None:
        """The target refused ``header`` as expired: forget it, so the next request fetches a new token."""
        with self._lock:
            if self._token is not None and self._token.header == header:
                self._token = None

    # ------------------------------------------------------------------------------ fetching
    def _fetch(self) -> _Token:
        where = f"token endpoint {self.token_url}"
        who = f"client id {self.client_id}"
        try:
            response = httpx.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                headers={
                    "Authorization": basic_header(self.client_id, self._client_secret),
                    "Accept": "application/json",
                },
                timeout=self.timeout,
                follow_redirects=False,
                verify=client_context(),
            )
        except httpx.HTTPError as exc:
            raise TargetUnreachableError(f"{where} is unreachable: {type(exc).__name__}: {exc}") from None
        self.tokens_fetched += 1
        body = response.content[:_MAX_TOKEN_REPLY]
        content_type = response.headers.get("content-type", "(none)")
        try:
            reply = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            reply = None
        if response.status_code in (400, 401, 403) and isinstance(reply, dict) and "error" in reply:
            detail = f"{reply.get('error')}: {reply.get('error_description') or ''}".rstrip(": ")
            raise AuthenticationFailedError(
                f"authentication failed for {who} at {where}: {response.status_code} {detail}"
            )
        if not isinstance(reply, dict):
            raise TokenEndpointError(
                f"{where} answered {response.status_code} with {content_type}, not a JSON token reply: "
                f"is BW_TOKEN_URL right, or is a proxy answering? ({_excerpt(body)})"
            )
        if response.status_code != 200:
            raise TokenEndpointError(
                f"{where} answered {response.status_code} for {who}: {_excerpt(body)}",
                reason="authentication-failed" if response.status_code in (401, 403) else "token-endpoint",
            )
        access_token = reply.get("access_token")
        token_type = reply.get("token_type", "Bearer")
        if not isinstance(access_token, str) or not access_token or any(c in access_token for c in "\r\n "):
            raise TokenEndpointError(f"{where} answered 200 without a usable access_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenEndpointError(f"{where} issued a token of type {token_type!r}, not Bearer")
        lifetime = reply.get("expires_in", _DEFAULT_LIFETIME)
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime < 0:
            raise TokenEndpointError(f"{where} answered an expires_in that is not a number of seconds")
        # Replace it a minute early; a token that lives less than two minutes is used for half its life.
        margin = REFRESH_MARGIN if lifetime > 2 * REFRESH_MARGIN else lifetime / 2
        return _Token(f"Bearer {access_token}", self._clock() + float(lifetime) - margin)

    # ------------------------------------------------------------------------------ adapters
    @property
    def httpx_auth(self) -> httpx.Auth:
        """An ``httpx.Auth`` sending this authenticator's header, refreshing once on an expired token."""
        return _HttpxAuth(self)

    @property
    def requests_auth(self) -> requests.auth.AuthBase:
        """A ``requests`` auth doing the same (schemathesis sends its cases with requests)."""
        return _RequestsAuth(self)


def _excerpt(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace").replace("\n", " ").strip()
    return repr(text) if text else "an empty body"


class _HttpxAuth(httpx.Auth):
    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        header = self.authenticator.authorization()
        request.headers["Authorization"] = header
        response = yield request
        if self.authenticator.mode == "oauth2" and response.status_code == 401:
            response.read()
            if says_token_expired(401, response.headers, response.content):
                self.authenticator.reject(header)
                request.headers["Authorization"] = self.authenticator.authorization()
                yield request


class _RequestsAuth(requests.auth.AuthBase):
    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        header = self.authenticator.authorization()
        request.headers["Authorization"] = header
        if self.authenticator.mode == "oauth2":
            request.register_hook("response", self._retry_expired)
        return request

    def _retry_expired(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        sent = response.request.headers.get("Authorization", "")
        if response.status_code != 401 or getattr(response.request, "_bw_retried", False):
            return response
        if not says_token_expired(401, response.headers, response.content):
            return response
        self.authenticator.reject(str(sent))
        retry = response.request.copy()
        retry.headers["Authorization"] = self.authenticator.authorization()
        retry._bw_retried = True  # type: ignore[attr-defined]
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.raw.release_conn()
        connection = response.connection
        again: requests.Response = connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again
