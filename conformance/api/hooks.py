"""A schemathesis ``before_call`` hook for the Voice API schemas built by :mod:`conformance.api.schema`.

Edits made here are seen by schemathesis before the request is sent, so a case's positive/negative
metadata is re-validated against what is actually sent.  The hook only touches schemas whose
configuration turns the Bandwidth checks on, so plain schemathesis runs in the same process are left
alone.

* Path parameters and top-level body members pinned by the configuration (``path.accountId``,
  ``body.applicationId``) are applied to every case that has them, including the stateful phase's,
  which does not apply configured overrides by itself.
* Opaque paging cursors (``pageToken``) are dropped: they are only meant to be followed from ``Link``
  headers, and a made-up one is rightly refused with 400.
"""

from __future__ import annotations

from typing import Any

import schemathesis

__all__ = ["OPAQUE_QUERY_PARAMETERS", "before_call", "is_voice_schema"]

OPAQUE_QUERY_PARAMETERS = ("pageToken",)
_MARKER_CHECK = "bw_error_body"


def is_voice_schema(schema: Any) -> bool:
    """True for schemas configured by :func:`conformance.api.schema.api_config`."""
    try:
        options = schema.config.checks_config_for().custom_kwargs.get(_MARKER_CHECK, {})
    except AttributeError:
        return False
    return isinstance(options, dict) and bool(options.get("active"))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    schema = case.operation.schema
    if not is_voice_schema(schema):
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
