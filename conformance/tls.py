"""One TLS client context for every HTTP client the suite opens, and the checks of the environment
those clients read (CA bundles, proxies), so that a typo there is a setup error (exit 2).

httpx builds a fresh :class:`ssl.SSLContext` for every ``Client`` it creates and reads the whole CA
bundle into it, about 50 ms each time.  The suite opens many short-lived clients (a loopback flow
opens one to set its number up and one to take it down), and py-spy put this at 4.9 s of a 64 s
``bw-conformance run``.  The context is built once per process, exactly as httpx would build it
(certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), and shared: an
:class:`ssl.SSLContext` may be used by many connections and threads at once.
"""

from __future__ import annotations

import os
import ssl
from functools import cache
from urllib.request import getproxies

import httpx

from conformance.errors import ConfigurationError

__all__ = ["check_proxy_environment", "check_requests_bundle", "client_context"]


@cache
def client_context() -> ssl.SSLContext:
    """The verifying TLS context given to every httpx client as ``verify=``.

    Built on the first client of a process, which is also when the proxy variables those clients
    read are checked (:func:`check_proxy_environment`).

    A CA bundle that cannot be read (``SSL_CERT_FILE`` naming a missing file, a file that is not
    PEM) is the user's setup: :class:`ConfigurationError` naming the variable (exit 2), not a
    traceback blamed on the target."""
    check_proxy_environment()
    try:
        return httpx.create_ssl_context(verify=True, trust_env=True)
    except (OSError, ssl.SSLError, ValueError) as exc:
        named = [name for name in ("SSL_CERT_FILE", "SSL_CERT_DIR") if os.environ.get(name)]
        where = f"{named[0]}={os.environ[named[0]]}" if named else "the certifi CA bundle"
        raise ConfigurationError(
            f"cannot load the CA certificates from {where}: {exc}", reason="tls-ca-bundle"
        ) from None


def check_requests_bundle() -> None:
    """Refuse a CA bundle variable of ``requests`` (the client schemathesis sends with) that names
    nothing: ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` with a typo would otherwise fail every
    request of the api area against an https target, each reported as the target's failure."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        value = os.environ.get(name)
        if value:
            if not os.path.exists(value):
                raise ConfigurationError(
                    f"{name}={value} names no file or directory (the CA certificates for https targets)",
                    reason="tls-ca-bundle",
                )
            return  # requests reads the first one set


def check_proxy_environment() -> None:
    """Refuse a proxy variable httpx cannot use (``HTTP_PROXY=ftp://...``): httpx raises ValueError
    from the first client it builds, which would be a traceback rather than a setup error.  The
    message names the variable, not its value (a proxy URL can carry a password)."""
    for scheme, value in getproxies().items():
        if scheme not in ("http", "https", "all") or not value:
            continue
        url = value if "://" in value else f"http://{value}"  # as httpx reads it
        try:
            httpx.Proxy(url)
        except (ValueError, httpx.InvalidURL):
            raise ConfigurationError(
                f"{scheme.upper()}_PROXY (or {scheme}_proxy) is not a proxy URL the suite can use: "
                "its scheme must be http, https, socks5 or socks5h",
                reason="bad-proxy",
            ) from None
