"""The probe checks: re-send a case's request with other credentials, once per operation.

``bw_auth_required``         401 + voiceApiError without credentials and with wrong ones: with Basic
                             (legacy) a wrong password; with OAuth2 a malformed token, an expired
                             token, and (on a target known to refuse Basic) the client credentials
                             sent as a Basic user
``bw_cross_account_denied``  403/404 + voiceApiError with another account's credentials (its token,
                             with OAuth2) on our paths, and with ours on the other account's paths

Both are class-based schemathesis checks turned on through the schema's configuration (see
:func:`conformance.api.schema.api_config`).  The configuration carries no secret: it names a run
(``run_id``) registered here with :func:`register_run`, which holds the credentials objects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import requests
import schemathesis

from conformance.api.accounts import Credentials
from conformance.api.pacing import CallPacer
from conformance.api.report import (
    NO_AUTH,
    CurlAuth,
    basic_curl_auth,
    curl_command,
    describe_exchange,
    literal_curl_auth,
)
from conformance.api.rules import error_body_problems
from conformance.auth import Authenticator, says_token_expired

if TYPE_CHECKING:
    from schemathesis import Case, CheckContext, Response

__all__ = [
    "EXPIRED_TOKEN",
    "MALFORMED_TOKEN",
    "ProbeRun",
    "bw_auth_required",
    "bw_cross_account_denied",
    "expired_token",
    "register_run",
]

_PROBE_TIMEOUT = 30.0
# Statuses after which a probe says nothing about auth (the request never reached the operation).
_NOT_PROBED = {401, 405, 415, 429}
MALFORMED_TOKEN = "not-a-token"  # noqa: S105 - deliberately not a token
WRONG_PASSWORD = "not-the-password"  # noqa: S105 - deliberately wrong


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def expired_token(client_id: str, account_id: str) -> str:
    """A well-formed HS256 JWT that expired on 2020-01-01 and is signed with a made-up key: no target
    can accept it (wrong signature, long expired), yet it parses as a token, so the target's own token
    checks answer.  Always the same for the same client and account, so reproduce commands hold."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "sub": client_id or "bw-conformance",
        "accounts": [account_id] if account_id else [],
        "iat": 1577833200,  # 2019-12-31T23:00:00Z
        "exp": 1577836800,  # 2020-01-01T00:00:00Z
        "jti": "bw-conformance-expired-token",
    }
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(b"bw-conformance: not anyone's key", signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{_b64url(signature.digest())}"


EXPIRED_TOKEN = expired_token("bw-conformance", "")


@dataclass(frozen=True)
class ProbeRun:
    """What the probes of one run (one schema configuration) need beyond the case: credentials and
    how reproduce commands write them.  Registered by :func:`register_run`, named by ``run_id``."""

    own: Credentials
    own_curl: CurlAuth
    other: Credentials | None = None
    other_curl: CurlAuth | None = None
    basic_refused: bool = False  # the target is known to refuse Basic (OAuth2 only)


_RUNS: dict[str, ProbeRun] = {}
_RUNS_LOCK = threading.Lock()


def register_run(run_id: str, run: ProbeRun) -> None:
    """Make ``run`` the credentials of the probes configured with ``run_id``."""
    with _RUNS_LOCK:
        _RUNS[run_id] = run


def _run_for(run_id: str) -> ProbeRun | None:
    with _RUNS_LOCK:
        return _RUNS.get(run_id)


def _basic(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _curl(request: requests.PreparedRequest, auth: CurlAuth) -> str:
    body = request.body
    headers = {k: v for k, v in request.headers.items() if isinstance(v, str)}
    return curl_command(
        str(request.method),
        str(request.url),
        headers,
        body if isinstance(body, bytes | str) else None,
        auth=auth,
    )


@dataclass(frozen=True)
class _Scenario:
    what: str  # "without credentials", "with a malformed token", ...
    authorization: str | None  # the header to send; None: none
    curl: CurlAuth  # how the reproduce command authenticates
    url: str | None = None  # another URL than the case's
    # Whose live token ``authorization`` is: a token that expired or was revoked since it was taken
    # says nothing about the probe, so it is renewed and the probe sent once more.
    renew: Authenticator | None = None


class _Probe:
    """Shared machinery: re-send a case's request with changes, once per operation, and remember it.

    Schemathesis may build several instances of a check in one run (one per schema clone), so the
    outcomes live on the class, keyed by the run's ``run_id`` (from the configuration) and the
    operation: None when the probe passed, or the failure message, re-raised for every later case of
    that operation so that hypothesis' replays and shrinking see a consistent outcome.
    """

    name = ""
    expected_statuses: tuple[int, ...] = ()
    _outcomes: ClassVar[dict[tuple[str, str, str], str | None]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, active: bool = False, run_id: str = "") -> None:
        self.active = active
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

    def _scenarios(self, run: ProbeRun, response: Response) -> list[_Scenario]:
        raise NotImplementedError

    def _prepare(self, response: Response, scenario: _Scenario) -> requests.PreparedRequest:
        prepared = response.request.copy()
        # The run's auth registers a hook that re-sends with a fresh token after an "invalid_token"
        # 401: exactly the answer a probe is after, so the copy must not carry it.
        prepared.hooks = {"response": []}
        prepared.headers.pop("Authorization", None)
        if scenario.authorization is not None:
            prepared.headers["Authorization"] = scenario.authorization
        if scenario.url is not None:
            prepared.url = scenario.url
        return prepared

    def _run(self, run: ProbeRun, response: Response, case: Case[Any]) -> list[str]:
        failures: list[str] = []
        wanted = " or ".join(str(status) for status in self.expected_statuses)
        for scenario in self._scenarios(run, response):
            prepared = self._prepare(response, scenario)
            expected = f"{wanted} with a voiceApiError body when the request is sent {scenario.what}"
            try:
                answer = self._send(prepared)
                if scenario.renew is not None and says_token_expired(
                    answer.status_code, answer.headers, answer.content
                ):
                    scenario.renew.reject(str(prepared.headers.get("Authorization", "")))
                    prepared.headers["Authorization"] = scenario.renew.authorization()
                    answer = self._send(prepared)
            except requests.RequestException as exc:
                failures.append(
                    _probe_failure(self.name, case, prepared, None, expected, [f"no answer: {exc}"], scenario)
                )
                continue
            problems = []
            if answer.status_code not in self.expected_statuses:
                problems.append(f"{scenario.what}: expected status {wanted}, got {answer.status_code}")
            problems += error_body_problems(answer.status_code, dict(answer.headers), answer.content)
            if problems:
                failures.append(
                    _probe_failure(self.name, case, prepared, answer, expected, problems, scenario)
                )
        return failures

    def after_response(self, ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
        if not self.active:
            return None
        run = _run_for(self.run_id)
        if run is None:
            return None
        key = (self.name, self.run_id, case.operation.label)
        with self._lock:
            if key in self._outcomes:
                failure = self._outcomes[key]
                if failure is not None:
                    raise AssertionError(failure)
                return None
            if not self._should_probe(response, case):
                return None
            failures = self._run(run, response, case)
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
    scenario: _Scenario,
) -> str:
    return describe_exchange(
        rule=rule,
        operation=case.operation.label,
        expected=expected,
        request_line=f"{prepared.method} {prepared.url}"
        + (f" ({scenario.curl.who})" if scenario.curl.who else ""),
        status=answer.status_code if answer is not None else None,
        response_headers=dict(answer.headers) if answer is not None else None,
        response_body=answer.content if answer is not None else problems[-1],
        problems=problems,
        reproduce=_curl(prepared, scenario.curl),
    )


class bw_auth_required(_Probe):  # lower case: the check's name in reports
    """Without credentials and with wrong ones, every operation answers 401 + voiceApiError."""

    name = "bw_auth_required"
    expected_statuses = (401,)

    def _scenarios(self, run: ProbeRun, response: Response) -> list[_Scenario]:
        own = run.own
        scenarios = [_Scenario("without credentials", None, NO_AUTH)]
        if own.mode == "basic":
            user = own.username or "bw-conformance"
            curl = basic_curl_auth(user, WRONG_PASSWORD)  # a public, deliberately wrong password
            scenarios.append(_Scenario("with a wrong password", _basic(user, WRONG_PASSWORD), curl))
            return scenarios
        malformed = f"Bearer {MALFORMED_TOKEN}"
        expired = f"Bearer {expired_token(own.client_id, own.account_id)}"
        scenarios += [
            _Scenario(
                "with a malformed token", malformed, literal_curl_auth(malformed, "with a malformed token")
            ),
            _Scenario(
                "with an expired token (wrong signature)",
                expired,
                literal_curl_auth(expired, "with an expired token"),
            ),
        ]
        if run.basic_refused:
            basic = _basic(own.client_id, own.client_secret)
            curl = basic_curl_auth(own.client_id, own.client_secret, env_name="BW_CLIENT_SECRET")
            scenarios.append(_Scenario("with the client credentials as a Basic user", basic, curl))
        return scenarios


class bw_cross_account_denied(_Probe):  # lower case: the check's name in reports
    """Another account's credentials on our paths, and ours on its paths, get 403/404 + voiceApiError."""

    name = "bw_cross_account_denied"
    expected_statuses = (403, 404)

    def _own_path(self, account_id: str) -> re.Pattern[str]:
        return re.compile(rf"/accounts/{re.escape(account_id)}(?=/|\?|$)")

    def _should_probe(self, response: Response, case: Case[Any]) -> bool:
        run = _run_for(self.run_id)
        if run is None or run.other is None or not run.own.account_id:
            return False
        own_path = self._own_path(run.own.account_id)
        return super()._should_probe(response, case) and bool(own_path.search(str(response.request.url)))

    def _scenarios(self, run: ProbeRun, response: Response) -> list[_Scenario]:
        other, other_curl = run.other, run.other_curl
        assert other is not None
        assert other_curl is not None
        ours, theirs = run.own.account_id, other.account_id
        own_header = str(response.request.headers.get("Authorization", ""))
        other_url = self._own_path(ours).sub(f"/accounts/{theirs}", str(response.request.url), count=1)
        return [
            _Scenario(
                f"with account {theirs}'s credentials on account {ours}'s path",
                other.authenticator.authorization(),
                other_curl,
                renew=other.authenticator if other.authenticator.mode == "oauth2" else None,
            ),
            _Scenario(
                f"with account {ours}'s credentials on account {theirs}'s path",
                own_header or None,
                run.own_curl,
                url=other_url,
                renew=run.own.authenticator if run.own.authenticator.mode == "oauth2" else None,
            ),
        ]


schemathesis.check(bw_auth_required)
schemathesis.check(bw_cross_account_denied)
