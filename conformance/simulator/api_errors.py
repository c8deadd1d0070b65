"""Error answers of the simulator's REST API: the ``voiceApiError`` body and the rule it names.

Handlers raise :class:`ApiError`; the app turns it into a JSON response
``{"type": ..., "description": ..., "id": ...}`` with the given status and headers, and records
``rule`` (a short machine-readable name of the contract rule the request broke) in the request log.
The ``SCOPE_*`` names are the ASGI scope keys under which a request's handling leaves what the
request log records (operation, account, rule and description).
"""

from __future__ import annotations

import json

from starlette.responses import Response

from conformance.errors import ConformanceError

# Keys kept in the ASGI scope for the request log.
SCOPE_OPERATION = "bw.operation"
SCOPE_ACCOUNT = "bw.account"
SCOPE_RULE = "bw.rule"
SCOPE_DESCRIPTION = "bw.description"

__all__ = [
    "SCOPE_ACCOUNT",
    "SCOPE_DESCRIPTION",
    "SCOPE_OPERATION",
    "SCOPE_RULE",
    "ApiError",
    "bad_request",
    "conflict",
    "error_response",
    "forbidden",
    "not_found",
    "unauthorized",
]


class ApiError(ConformanceError):
    """A request the simulator refuses, with everything needed to answer it."""

    reason = "api-error"

    def __init__(
        self,
        status: int,
        description: str,
        *,
        rule: str,
        error_type: str = "validation",
        error_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description, reason=rule)
        self.status = status
        self.description = description
        self.rule = rule
        self.error_type = error_type
        self.error_id = error_id
        self.headers = headers or {}

    def response(self) -> Response:
        return error_response(self.status, self.error_type, self.description, self.error_id, self.headers)


def error_response(
    status: int,
    error_type: str,
    description: str,
    error_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = json.dumps({"type": error_type, "description": description, "id": error_id}).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def bad_request(field: str, problem: str, *, rule: str | None = None) -> ApiError:
    """400 naming the field: ``Invalid to: must be an E164 telephone number``."""
    return ApiError(400, f"Invalid {field}: {problem}", rule=rule or f"invalid-{field}")


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "The credentials provided were invalid",
        rule="authentication",
        error_type="authentication-error",
        headers={"WWW-Authenticate": 'Basic realm="Bandwidth Voice API simulator"'},
    )


def forbidden() -> ApiError:
    return ApiError(403, "Access is denied", rule="authorization", error_type="authorization-error")


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"{kind} [{ident}] not found", rule=f"unknown-{kind.lower()}")


def conflict(kind: str, ident: str) -> ApiError:
    return ApiError(
        409,
        f"{kind} [{ident}] cannot be modified in its current state",
        rule=f"{kind.lower()}-not-modifiable",
        error_id="",
    )
