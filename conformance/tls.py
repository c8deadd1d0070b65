"""One TLS client context for every HTTP client the suite opens.

httpx builds a fresh :class:`ssl.SSLContext` for every ``Client`` it creates and reads the whole CA
bundle into it, about 50 ms each time.  The suite opens many short-lived clients (a loopback flow
opens one to set its number up and one to take it down), and py-spy put this at 4.9 s of a 64 s
``bw-conformance run``.  The context is built once per process, exactly as httpx would build it
(certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), and shared: an
:class:`ssl.SSLContext` may be used by many connections and threads at once.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx

__all__ = ["client_context"]


@cache
def client_context() -> ssl.SSLContext:
    """The verifying TLS context given to every httpx client as ``verify=``."""
    return httpx.create_ssl_context(verify=True, trust_env=True)
