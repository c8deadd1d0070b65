"""The official Bandwidth Python SDK (``bandwidth-sdk``) pointed at a target, its token request included.

With client credentials, ``bandwidth.Configuration(client_id=..., client_secret=...)`` trades them
for an access token before a request; by default it posts them to Bandwidth's own
``https://api.bandwidth.com/api/v1/oauth2/token``, whatever ``host`` says.  Against the simulator (or
a staging target with its own identity service) that request would leave the machine, with the
target's credentials in it.  :func:`configuration` returns a Configuration whose Voice requests go to
the target (``host``, with ``ignore_operation_servers`` so the operations' built-in
``https://voice.bandwidth.com/api/v2`` is not used) and whose token request goes to ``token_url``
(default: the target's own ``{scheme}://{host:port}/api/v1/oauth2/token``, where the simulator
serves it)::

    import bandwidth
    from conformance import sdk

    config = sdk.configuration(sim.base_url, client_id="bw-client", client_secret="bw-client-secret")
    with bandwidth.ApiClient(config) as client:
        bandwidth.CallsApi(client).list_calls("9900000")

:func:`configuration_for` does the same for a :class:`~conformance.target.Target` (the pytest
fixture ``bw_sdk_configuration`` is that).

How it hooks the SDK (checked against bandwidth-sdk 23.3.1, ``bandwidth/configuration.py``): the
SDK's ``Configuration.auth_settings()`` calls ``self.get_access_token()`` whenever ``client_id`` and
``client_secret`` are set, and that method posts to ``self.access_token_url``.  The Configuration
returned here is a subclass that sets ``access_token_url`` and overrides ``get_access_token``; the
override sends the same request (POST, ``Authorization: Basic base64(id:secret)``, form
``grant_type=client_credentials``), keeps the token in the same attributes
(``temp_access_token``, ``temp_access_token_expiration``) and refreshes it
:data:`TOKEN_REFRESH_MARGIN` seconds before it expires, as the SDK does.  It differs in what the
SDK's own fetch leaves out: it goes through the SDK's transport (``bandwidth.rest``, so
``ssl_ca_cert``, ``proxy`` and ``retries`` apply), it has a timeout, and a refused token request
raises the SDK's own exception for its status (``UnauthorizedException`` with ``status == 401`` for
a wrong secret) instead of ``KeyError: 'access_token'``.  An SDK whose ``auth_settings`` no longer
calls ``get_access_token`` is refused with :class:`~conformance.errors.ConfigurationError` (reason
``sdk-unsupported``) rather than trusted to keep its token request on the target.

Like the SDK, the token is refreshed only when it is about to expire: a token the target revoked
keeps failing with 401 until then (set ``temp_access_token = None`` to fetch a new one at once).

The SDK is an optional dependency (``pip install 'bandwidth-voice-conformance[sdk]'``): importing
this module does not import it; calling a function without it raises
:class:`~conformance.errors.ConfigurationError` (reason ``sdk-missing``).
"""

from __future__ import annotations

import functools
import json
import time
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conformance.auth import basic_header
from conformance.errors import ConfigurationError
from conformance.settings import TOKEN_PATH

if TYPE_CHECKING:
    from conformance.target import Target

__all__ = ["INSTALL_HINT", "TOKEN_REFRESH_MARGIN", "configuration", "configuration_for"]

INSTALL_HINT = "pip install 'bandwidth-voice-conformance[sdk]'"
# Seconds before expiry at which a token is replaced (bandwidth-sdk's get_access_token uses 60).
TOKEN_REFRESH_MARGIN = 60
# An access token without expires_in (RFC 6749 makes it optional) is kept for an hour, as
# Bandwidth's CLI does (internal/auth/oauth.go).
_DEFAULT_EXPIRES_IN = 3600
# Configuration arguments this module sets itself: passing them would undo what it is for.
_RESERVED = frozenset(
    {
        "host",
        "client_id",
        "client_secret",
        "access_token",
        "access_token_url",
        "ignore_operation_servers",
        "username",
        "password",
    }
)


def _sdk() -> Any:
    """The ``bandwidth`` package, or a :class:`ConfigurationError` saying how to install it."""
    try:
        import bandwidth
    except ImportError as exc:
        raise ConfigurationError(
            "the official Bandwidth Python SDK (bandwidth-sdk) is not installed: install "
            f"bandwidth-voice-conformance[sdk] ({INSTALL_HINT}); import failed with: {exc}",
            reason="sdk-missing",
        ) from exc
    return bandwidth


def _sdk_version() -> str:
    try:
        return version("bandwidth-sdk")
    except PackageNotFoundError:  # pragma: no cover - imported from a source tree
        return "(unknown version)"


def _check_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{name} must be an http(s) URL, got {value!r}", reason="bad-url")
    return value


def _check_kwargs(kwargs: dict[str, Any]) -> None:
    taken = sorted(_RESERVED.intersection(kwargs))
    if taken:
        raise ConfigurationError(
            f"conformance.sdk sets {', '.join(taken)} itself; pass the other Configuration options only",
            reason="bad-sdk-option",
        )


def _own_token_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{TOKEN_PATH}"


def _fetch_token(sdk: Any, config: Any) -> tuple[str, float]:
    """POST the client credentials to ``config.access_token_url``: ``(access_token, expires_in)``."""
    url = config.access_token_url
    client = sdk.rest.RESTClientObject(config)
    try:
        response = client.request(
            "POST",
            url,
            headers={
                "Authorization": basic_header(config.client_id, config.client_secret),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            post_params=[("grant_type", "client_credentials")],
            _request_timeout=config.token_timeout,
        )
        data = response.read() or b""
    finally:
        client.pool_manager.clear()
    text = data.decode("utf-8", "replace")
    if not 200 <= response.status < 300:
        raise sdk.exceptions.ApiException.from_response(http_resp=response, body=text, data=None)
    try:
        reply = json.loads(text)
    except ValueError:
        reply = None
    token = reply.get("access_token") if isinstance(reply, dict) else None
    expires_in = reply.get("expires_in", _DEFAULT_EXPIRES_IN) if isinstance(reply, dict) else None
    if (
        not isinstance(token, str)
        or not token
        or isinstance(expires_in, bool)
        or not isinstance(expires_in, int | float)
    ):
        # The body is left out: it may hold a token.
        raise sdk.exceptions.ApiException(
            status=response.status,
            reason=(
                f"the token endpoint {url} answered {response.status} without a JSON object holding "
                "access_token and a numeric expires_in (is it a token endpoint?)"
            ),
        )
    return token, float(expires_in)


@functools.cache
def _configuration_class(sdk: Any) -> Any:
    """``sdk.Configuration`` with its token request sent to ``access_token_url`` and checked."""
    base = sdk.Configuration
    auth_settings = getattr(base, "auth_settings", None)
    code = getattr(auth_settings, "__code__", None)
    if (
        not callable(getattr(base, "get_access_token", None))
        or code is None
        or "get_access_token" not in code.co_names
        or not hasattr(getattr(sdk, "rest", None), "RESTClientObject")
    ):
        raise ConfigurationError(
            f"bandwidth-sdk {_sdk_version()} gets its OAuth2 tokens in a way conformance.sdk does not "
            "know (Configuration.auth_settings does not call get_access_token), so its token request "
            "cannot be kept on the target; use a release this module was checked against (23.3.x)",
            reason="sdk-unsupported",
        )

    class TargetConfiguration(base):  # type: ignore[misc,valid-type]  # the SDK has no type hints
        """``bandwidth.Configuration`` whose token request goes to ``access_token_url`` (see the module)."""

        token_timeout: float = 30.0

        def get_access_token(self) -> str:
            now = time.time()
            token = getattr(self, "temp_access_token", None)
            expires_at = getattr(self, "temp_access_token_expiration", 0) or 0
            if isinstance(token, str) and token and expires_at > now + TOKEN_REFRESH_MARGIN:
                return token
            token, expires_in = _fetch_token(sdk, self)
            self.temp_access_token = token
            self.temp_access_token_expiration = now + expires_in
            return token

    TargetConfiguration.__module__ = __name__
    TargetConfiguration.__qualname__ = "TargetConfiguration"
    return TargetConfiguration


def configuration(
    base_url: str,
    *,
    client_id: str,
    client_secret: str,
    token_url: str | None = None,
    token_timeout: float = 30.0,
    **kwargs: Any,
) -> Any:
    """A ``bandwidth.Configuration`` for the Voice API at ``base_url``, with OAuth2 client credentials.

    Voice requests go to ``base_url`` (its operations' paths are appended: give the simulator's
    ``http://127.0.0.1:PORT`` or a real ``https://voice.bandwidth.com/api/v2``).  The access token
    comes from ``token_url``, by default ``base_url``'s origin plus ``/api/v1/oauth2/token``; for
    the real platform pass ``https://api.bandwidth.com/api/v1/oauth2/token``.  ``token_timeout`` is
    the seconds a token request may take.  Other keyword arguments go to ``bandwidth.Configuration``
    (``ssl_ca_cert``, ``retries``, ``debug``, ...); ``host``, the credentials and
    ``ignore_operation_servers`` are set here and refused.

    Raises :class:`~conformance.errors.ConfigurationError` when the SDK is missing (reason
    ``sdk-missing``) or cannot be pointed at a token endpoint, or for a bad argument.
    """
    sdk = _sdk()
    _check_kwargs(kwargs)
    host = _check_url("base_url", base_url).rstrip("/")
    url = _own_token_url(host) if token_url is None else _check_url("token_url", token_url)
    if not client_id or not client_secret:
        raise ConfigurationError("client_id and client_secret must not be empty", reason="missing-setting")
    if isinstance(token_timeout, bool) or not token_timeout > 0:
        raise ConfigurationError(
            f"token_timeout must be a positive number of seconds, got {token_timeout!r}",
            reason="bad-sdk-option",
        )
    cls = _configuration_class(sdk)
    config = cls(
        host=host,
        client_id=client_id,
        client_secret=client_secret,
        ignore_operation_servers=True,
        **kwargs,
    )
    config.access_token_url = url
    config.token_timeout = float(token_timeout)
    return config


def configuration_for(target: Target, **kwargs: Any) -> Any:
    """A ``bandwidth.Configuration`` for ``target``, authenticated as the run is.

    OAuth2 runs get :func:`configuration` with the target's client credentials, its resolved token
    URL (``target.settings.token_url``; the target's own when unset) and its request timeout for the
    token request.  A run on legacy Basic gets the SDK's own Configuration with the user name and
    password.  ``kwargs`` go to ``bandwidth.Configuration`` as in :func:`configuration`.
    """
    settings = target.settings
    if settings.auth == "basic":
        sdk = _sdk()
        _check_kwargs(kwargs)
        if not settings.username or not settings.password:
            raise ConfigurationError(
                "the run uses Basic authentication but has no user name and password",
                reason="missing-setting",
            )
        return sdk.Configuration(
            host=target.base_url.rstrip("/"),
            username=settings.username,
            password=settings.password,
            ignore_operation_servers=True,
            **kwargs,
        )
    if not settings.client_id or not settings.client_secret:
        raise ConfigurationError(
            "the run uses OAuth2 but has no client id and secret (BW_CLIENT_ID, BW_CLIENT_SECRET)",
            reason="missing-setting",
        )
    return configuration(
        target.base_url,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        token_url=settings.token_url,
        token_timeout=settings.request_timeout,
        **kwargs,
    )
