"""Bandwidth-specific schemathesis checks, registered with ``@schemathesis.check`` on import.

Every check is inert unless the schema's configuration turns it on (``[checks.<name>] active =
true``, which :func:`conformance.api.schema.api_config` writes), so importing this module never
changes plain schemathesis runs against other APIs in the same process.

Response rules (one response at a time, see :mod:`conformance.api.rules`):

``bw_error_body``            every 4xx/5xx carries a voiceApiError JSON body
``bw_create_call_location``  createCall's 201 ``Location`` equals the body's ``callUrl``
``bw_id_formats``            ids have the documented formats
``bw_call_times_ordered``    enqueuedTime <= startTime <= answerTime <= endTime

Probes (re-send the case's request once per operation with other credentials, see
:mod:`conformance.api.probes`):

``bw_auth_required``         401 + voiceApiError without credentials and with wrong ones (Basic: a
                             wrong password; OAuth2: a malformed and an expired token, and the client
                             credentials as a Basic user on a target that accepts OAuth2 only)
``bw_cross_account_denied``  403/404 + voiceApiError with another account's credentials (its token
                             with OAuth2), and on another account's path with ours
"""

from __future__ import annotations

import contextlib
import importlib
from typing import TYPE_CHECKING, Any

import schemathesis

from conformance.api import probes
from conformance.api.operations import id_kind_for_path, is_create_call
from conformance.api.rules import (
    call_time_problems,
    error_body_problems,
    id_format_problems,
    location_problems,
    parse_json,
)

if TYPE_CHECKING:
    from schemathesis import Case, CheckContext, Response

__all__ = [
    "CHECK_NAMES",
    "PROBE_CHECK_NAMES",
    "RESPONSE_CHECK_NAMES",
    "bw_call_times_ordered",
    "bw_create_call_location",
    "bw_error_body",
    "bw_id_formats",
]


# Modules schemathesis' own checks import lazily, i.e. in the middle of a hypothesis test.  Importing
# a module there lets pytest's assertion rewriter (schemathesis is a pytest plugin) call ast.parse
# deep inside hypothesis, which trips a CPython 3.11 bug ("AST constructor recursion depth
# mismatch").  Importing them up front avoids it.
_EAGER_IMPORTS = (
    "schemathesis.specs.openapi.object_authorization",
    "schemathesis.specs.openapi.adapter.security",
    "schemathesis.specs.openapi.validation",
    "schemathesis.core.error_feedback.collector",
    "schemathesis.engine.recorder",
)
for _module in _EAGER_IMPORTS:
    with contextlib.suppress(ImportError):
        importlib.import_module(_module)


def _options(ctx: CheckContext, name: str) -> dict[str, Any]:
    options = ctx.config.custom_kwargs.get(name, {})
    return options if isinstance(options, dict) else {}


def _active(ctx: CheckContext, name: str) -> bool:
    return bool(_options(ctx, name).get("active"))


def _request_line(response: Response) -> str:
    request = response.request
    return f"{request.method} {request.url}"


def _fail(rule: str, case: Case[Any], response: Response, expected: str, problems: list[str]) -> None:
    # The response and a curl line are appended by schemathesis; this names the rule and expectation.
    raise AssertionError(
        "\n".join(
            [
                f"[{rule}] {case.operation.label}: {_request_line(response)} -> {response.status_code}",
                f"expected: {expected}",
                *(f"problem:  {p}" for p in problems),
            ]
        )
    )


def _json(response: Response) -> tuple[bool, Any]:
    return parse_json(response.content or b"")


@schemathesis.check
def bw_error_body(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every 4xx/5xx answer carries a voiceApiError JSON body (type, description, id)."""
    if not _active(ctx, "bw_error_body"):
        return None
    problems = error_body_problems(response.status_code, response.headers, response.content or b"")
    if problems:
        _fail(
            "bw_error_body",
            case,
            response,
            "a JSON voiceApiError body {type, description, id} on every 4xx/5xx",
            problems,
        )
    return None


@schemathesis.check
def bw_create_call_location(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """createCall's 201 carries a ``Location`` header equal to the body's ``callUrl``."""
    if not _active(ctx, "bw_create_call_location") or not is_create_call(case.operation):
        return None
    ok, body = _json(response)
    account_id = _options(ctx, "bw_create_call_location").get("account_id")
    problems = location_problems(
        response.status_code,
        response.headers,
        body if ok else None,
        account_id=account_id if isinstance(account_id, str) else None,
    )
    if problems:
        _fail("bw_create_call_location", case, response, "Location == callUrl on createCall's 201", problems)
    return None


@schemathesis.check
def bw_id_formats(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Ids in successful bodies have the documented formats (``c-``47, ``conf-``50, ``r-``47, ``t-``...)."""
    if not _active(ctx, "bw_id_formats") or not 200 <= response.status_code < 300:
        return None
    ok, body = _json(response)
    if not ok:
        return None
    problems = id_format_problems(body, id_kind=id_kind_for_path(case.operation.path))
    if problems:
        _fail("bw_id_formats", case, response, "ids in the documented formats", problems)
    return None


@schemathesis.check
def bw_call_times_ordered(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """In call states and recordings, enqueuedTime <= startTime <= answerTime <= endTime."""
    if not _active(ctx, "bw_call_times_ordered") or not 200 <= response.status_code < 300:
        return None
    ok, body = _json(response)
    if not ok:
        return None
    problems = call_time_problems(body)
    if problems:
        _fail(
            "bw_call_times_ordered",
            case,
            response,
            "enqueuedTime <= startTime <= answerTime <= endTime, each an ISO 8601 date-time with offset",
            problems,
        )
    return None


RESPONSE_CHECK_NAMES = ("bw_error_body", "bw_create_call_location", "bw_id_formats", "bw_call_times_ordered")
PROBE_CHECK_NAMES = (probes.bw_auth_required.__name__, probes.bw_cross_account_denied.__name__)
CHECK_NAMES = RESPONSE_CHECK_NAMES + PROBE_CHECK_NAMES
