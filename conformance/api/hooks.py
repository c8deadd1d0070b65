"""A schemathesis ``before_call`` hook for the Voice API schemas built by :mod:`conformance.api.schema`.

Edits made here are seen by schemathesis before the request is sent, so a case's positive/negative
metadata is re-validated against what is actually sent.  The hook only touches schemas whose
configuration turns the Bandwidth checks on (the options of ``bw_error_body`` carry the suite-wide
settings), so plain schemathesis runs in the same process are left alone.

* Path parameters and top-level body members pinned by the configuration (``path.accountId``,
  ``body.applicationId``) are applied to every case that has them, including the stateful phase's,
  which does not apply configured overrides by itself.
* Opaque paging cursors (``pageToken``) are dropped: they are only meant to be followed from ``Link``
  headers, and a made-up one is rightly refused with 400.
* With ``callback_base_url`` set, every absolute http(s) URL in a body member whose name ends in
  ``Url`` is re-pointed there (its host kept as the first path segment), so that a simulator on this
  machine never calls the made-up hosts the fuzzer writes (``https://x7.example.org/...``).
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import schemathesis

__all__ = [
    "OPAQUE_QUERY_PARAMETERS",
    "before_call",
    "is_voice_schema",
    "local_callback_base",
    "redirect_callback_urls",
    "voice_options",
]

OPAQUE_QUERY_PARAMETERS = ("pageToken",)
_MARKER_CHECK = "bw_error_body"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def voice_options(schema: Any) -> dict[str, Any] | None:
    """The suite-wide options of a schema configured by :func:`~conformance.api.schema.api_config`."""
    try:
        options = schema.config.checks_config_for().custom_kwargs.get(_MARKER_CHECK, {})
    except AttributeError:
        return None
    if isinstance(options, dict) and options.get("active"):
        return options
    return None


def is_voice_schema(schema: Any) -> bool:
    """True for schemas configured by :func:`conformance.api.schema.api_config`."""
    return voice_options(schema) is not None


def local_callback_base(target_base_url: str) -> str | None:
    """Where to re-point made-up callback URLs for a target on this machine: a local port that nothing
    listens on, so callbacks fail at once (connection refused) and never leave the machine.  ``None``
    for targets elsewhere (a real account calls what it is given)."""
    if urlsplit(target_base_url).hostname not in _LOCAL_HOSTS:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/unreachable"


def _redirect(url: str, base: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.hostname in _LOCAL_HOSTS:
        return url
    tail = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{base.rstrip('/')}/{parts.hostname}{tail}{query}"


def redirect_callback_urls(body: Any, base: str) -> Any:
    """``body`` with every absolute http(s) ``...Url`` member re-pointed under ``base``."""
    if isinstance(body, dict):
        return {
            key: _redirect(value, base)
            if isinstance(value, str) and key.endswith("Url")
            else redirect_callback_urls(value, base)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [redirect_callback_urls(item, base) for item in body]
    return body


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    schema = case.operation.schema
    options = voice_options(schema)
    if options is None:
        return
    for key, value in schema.config.parameters.items():
        location, _, name = str(key).partition(".")
        if not isinstance(value, str):
            continue
        if location == "path" and name in (case.path_parameters or {}):
            case.path_parameters[name] = value
        elif location == "body" and isinstance(case.body, dict) and name in case.body:
            case.body[name] = value
    if case.query:
        for name in OPAQUE_QUERY_PARAMETERS:
            case.query.pop(name, None)
    base = options.get("callback_base_url")
    if isinstance(base, str) and base and isinstance(case.body, dict):
        redirected = redirect_callback_urls(case.body, base)
        if redirected != case.body:
            case.body.clear()
            case.body.update(redirected)
