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

__all__ = [
    "check_proxy_environment",
    "check_requests_bundle",
    "client_context",
    "keep_loopback_off_proxies",
    "proxy_for",
]

#: The loopback names a proxy can never serve: a proxy elsewhere reaching "127.0.0.1" reaches itself.
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@cache
def client_context() -> ssl.SSLContext:
    """The verifying TLS context given to every httpx client as ``verify=``.

    Built on the first client of a process, which is also when the proxy variables those clients
    read are checked (:func:`check_proxy_environment`).

    A CA bundle that cannot be read (``SSL_CERT_FILE`` naming a missing file, a file that is not
    PEM) is the user's setup: :class:`ConfigurationError` naming the variable (exit 2), not a
    traceback blamed on the target."""
    check_proxy_environment()
    keep_loopback_off_proxies()
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


def keep_loopback_off_proxies() -> None:
    """With a proxy variable set, add the loopback names to ``NO_PROXY`` and ``no_proxy`` (what the
    user listed there stays), for this process and the processes it starts.

    httpx, requests and websockets send a request for ``http://127.0.0.1:PORT`` (the embedded
    simulator, the webhook sink, a local app) through ``HTTP_PROXY`` unless ``NO_PROXY`` names it,
    and a proxy on another machine reaches its own loopback, not ours: a CI job whose environment
    carries a company proxy failed every run against the embedded simulator as "target unreachable".
    """
    proxies = getproxies()
    if not any(value for scheme, value in proxies.items() if scheme in ("http", "https", "all")):
        return
    # What the clients read now (no_proxy wins over NO_PROXY when both are set), written to both
    # names so that every client reads the same list afterwards.
    listed = [entry.strip() for entry in proxies.get("no", "").split(",") if entry.strip()]
    if "*" in listed:
        return
    missing = [host for host in _LOOPBACK if host not in listed]
    if missing:
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join([*listed, *missing])


def proxy_for(url: str) -> str | None:
    """The variable whose proxy a request for ``url`` goes through (``HTTPS_PROXY``...), or ``None``.

    For messages only: it names the variable, never its value (a proxy URL can carry a password)."""
    import urllib.request
    from urllib.parse import urlsplit

    # NO_PROXY as urllib reads it (httpx and requests read it alike); not in typeshed's stubs.
    proxy_bypass_environment = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    parts = urlsplit(url)
    proxies = getproxies()
    scheme = parts.scheme.lower()
    chosen = scheme if proxies.get(scheme) else "all" if proxies.get("all") else None
    if chosen is None or not parts.hostname:
        return None
    if proxy_bypass_environment(parts.hostname, proxies):  # the bare name: "::1", not "[::1]:80"
        return None
    return f"{chosen.upper()}_PROXY"
