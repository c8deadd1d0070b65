"""The probe checks: re-send a case's request with other credentials, once per operation.

``bw_auth_required``         401 + voiceApiError without credentials and with a wrong password
``bw_cross_account_denied``  403/404 + voiceApiError with another account's credentials on our
                             paths, and with ours on the other account's paths

Both are class-based schemathesis checks configured (and turned on) through the schema's
configuration, see :func:`conformance.api.schema.api_config`.
"""

from __future__ import annotations

import base64
import re
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import requests
import schemathesis

from conformance.api.pacing import CallPacer
from conformance.api.report import curl_command, describe_exchange
from conformance.api.rules import error_body_problems

if TYPE_CHECKING:
    from schemathesis import Case, CheckContext, Response

__all__ = ["bw_auth_required", "bw_cross_account_denied"]

_PROBE_TIMEOUT = 30.0
# Shell variables standing for secret passwords in reproduce commands (report.user_argument).
_OWN = "BW_PASSWORD"
_OTHER = "BW_OTHER_PASSWORD"
# Statuses after which a probe says nothing about auth (the request never reached the operation).
_NOT_PROBED = {401, 405, 415, 429}


def _curl(request: requests.PreparedRequest, user: str | None, env_name: str) -> str:
    body = request.body
    headers = {k: v for k, v in request.headers.items() if isinstance(v, str)}
    return curl_command(
        str(request.method),
        str(request.url),
        headers,
        body if isinstance(body, bytes | str) else None,
        user=user,
        env_name=env_name,
    )


def _basic(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class _Probe:
    """Shared machinery: re-send a case's request with changes, once per operation, and remember it.

    Schemathesis may build several instances of a check in one run (one per schema clone), so the
    outcomes live on the class, keyed by the run's ``run_id`` (from the configuration) and the
    operation: None when the probe passed, or the failure message, re-raised for every later case of
    that operation so that hypothesis' replays and shrinking see a consistent outcome.
    """

    name = ""
    _outcomes: ClassVar[dict[tuple[str, str, str], str | None]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id

    def _send(self, prepared: requests.PreparedRequest) -> requests.Response:
        # A real account may answer 429; the probe waits it out like every other request.
        with requests.Session() as session:
            return CallPacer().send(
                lambda: session.send(prepared.copy(), timeout=_PROBE_TIMEOUT, allow_redirects=False)
            )

    def _should_probe(self, response: Response, case: Case[Any]) -> bool:
        if case.method.upper() != case.operation.method.upper():
            return False
        if response.status_code in _NOT_PROBED:
            return False
        return "authorization" in {k.lower() for k in response.request.headers}

    def _run(self, response: Response, case: Case[Any]) -> list[str]:
        raise NotImplementedError

    def after_response(self, ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
        key = (self.name, self.run_id, case.operation.label)
        with self._lock:
            if key in self._outcomes:
                failure = self._outcomes[key]
                if failure is not None:
                    raise AssertionError(failure)
                return None
            if not self._should_probe(response, case):
                return None
            failures = self._run(response, case)
            message = "\n\n".join(failures) if failures else None
            self._outcomes[key] = message
        if message is not None:
            raise AssertionError(message)
        return None


def _probe_failure(
    rule: str,
    case: Case[Any],
    prepared: requests.PreparedRequest,
    answer: requests.Response | None,
    expected: str,
    problems: list[str],
    user: str | None,
    error: str | None = None,
    env_name: str = "BW_PASSWORD",
) -> str:
    return describe_exchange(
        rule=rule,
        operation=case.operation.label,
        expected=expected,
        request_line=f"{prepared.method} {prepared.url}" + (f" (as {user.split(':')[0]})" if user else ""),
        status=answer.status_code if answer is not None else None,
        response_headers=dict(answer.headers) if answer is not None else None,
        response_body=answer.content if answer is not None else error,
        problems=problems,
        reproduce=_curl(prepared, user, env_name),
    )


class bw_auth_required(_Probe):  # lower case: the check's name in reports
    """Without credentials and with a wrong password, every operation answers 401 + voiceApiError."""

    name = "bw_auth_required"

    def __init__(self, active: bool = False, username: str = "", run_id: str = "") -> None:
        super().__init__(run_id)
        self.active = active
        self.username = username or "bw-conformance"

    def _run(self, response: Response, case: Case[Any]) -> list[str]:
        failures: list[str] = []
        scenarios = (
            ("without credentials", None, None),
            ("with a wrong password", f"{self.username}:not-the-password", "not-the-password"),
        )
        for what, user, password in scenarios:
            prepared = response.request.copy()
            if password is None:
                prepared.headers.pop("Authorization", None)
            else:
                prepared.headers["Authorization"] = _basic(self.username, password)
            try:
                answer = self._send(prepared)
            except requests.RequestException as exc:
                failures.append(
                    _probe_failure(
                        self.name, case, prepared, None, f"401 {what}", [f"no answer: {exc}"], user, str(exc)
                    )
                )
                continue
            problems = []
            if answer.status_code != 401:
                problems.append(f"{what}: expected status 401, got {answer.status_code}")
            problems += error_body_problems(answer.status_code, dict(answer.headers), answer.content)
            if problems:
                failures.append(
                    _probe_failure(
                        self.name,
                        case,
                        prepared,
                        answer,
                        f"401 with a voiceApiError body when the request is sent {what}",
                        problems,
                        user,
                    )
                )
        return failures

    def after_response(self, ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
        if not self.active:
            return None
        return super().after_response(ctx, response, case)


class bw_cross_account_denied(_Probe):  # lower case: the check's name in reports
    """Another account's credentials on our paths, and ours on its paths, get 403/404 + voiceApiError."""

    name = "bw_cross_account_denied"

    def __init__(
        self,
        active: bool = False,
        account_id: str = "",
        other_account_id: str = "",
        other_username: str = "",
        other_password: str = "",
        run_id: str = "",
    ) -> None:
        super().__init__(run_id)
        self.active = active and bool(account_id and other_account_id and other_username)
        self.account_id = account_id
        self.other_account_id = other_account_id
        self.other_username = other_username
        self.other_password = other_password

    def _own_path(self) -> re.Pattern[str]:
        return re.compile(rf"/accounts/{re.escape(self.account_id)}(?=/|\?|$)")

    def _should_probe(self, response: Response, case: Case[Any]) -> bool:
        return super()._should_probe(response, case) and bool(
            self._own_path().search(str(response.request.url))
        )

    def _run(self, response: Response, case: Case[Any]) -> list[str]:
        failures: list[str] = []
        # 1. The other account's credentials on our account's path.
        as_other = response.request.copy()
        as_other.headers["Authorization"] = _basic(self.other_username, self.other_password)
        other_user = f"{self.other_username}:{self.other_password}"
        # 2. Our credentials on the other account's path.
        on_other = response.request.copy()
        on_other.url = self._own_path().sub(f"/accounts/{self.other_account_id}", str(on_other.url), count=1)
        own_auth = response.request.headers.get("Authorization", "")
        own_user = None
        if isinstance(own_auth, str) and own_auth.startswith("Basic "):
            try:
                own_user = base64.b64decode(own_auth[6:]).decode()
            except (ValueError, UnicodeDecodeError):
                own_user = None
        ours, theirs = self.account_id, self.other_account_id
        scenarios = (
            (f"with account {theirs}'s credentials on account {ours}'s path", as_other, other_user, _OTHER),
            (f"with account {ours}'s credentials on account {theirs}'s path", on_other, own_user, _OWN),
        )
        for what, prepared, user, variable in scenarios:
            try:
                answer = self._send(prepared)
            except requests.RequestException as exc:
                failures.append(
                    _probe_failure(
                        self.name,
                        case,
                        prepared,
                        None,
                        "403 or 404",
                        [f"no answer: {exc}"],
                        user,
                        str(exc),
                        env_name=variable,
                    )
                )
                continue
            problems = []
            if answer.status_code not in (403, 404):
                problems.append(f"{what}: expected status 403 or 404, got {answer.status_code}")
            problems += error_body_problems(answer.status_code, dict(answer.headers), answer.content)
            if problems:
                failures.append(
                    _probe_failure(
                        self.name,
                        case,
                        prepared,
                        answer,
                        f"403 or 404 with a voiceApiError body when the request is sent {what}",
                        problems,
                        user,
                        env_name=variable,
                    )
                )
        return failures

    def after_response(self, ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
        if not self.active:
            return None
        return super().after_response(ctx, response, case)


schemathesis.check(bw_auth_required)
schemathesis.check(bw_cross_account_denied)
