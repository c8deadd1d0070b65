"""The api suite with OAuth2 client credentials: it passes on an OAuth2-only simulator, renews a token
revoked mid-run, and fails naming the rule (never printing a secret or a live token) on targets that
accept an expired token, Basic credentials on an OAuth2-only API, or another account's token.

Targets are the simulator (``auth_mode`` as each test needs) behind the middleware of
``broken_targets.py``; runs go through pytester like ``test_api_suite.py``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.api.probes import expired_token
from conformance.settings import SIMULATOR_APPLICATION_ID, SIMULATOR_NUMBER
from conformance.simulator.config import SimulatorConfig
from tests.suites.broken_targets import Breakage, Request, Response, serve, trimmed_contract

pytest_plugins = ["pytester"]

_BUDGET = "2"
_CLIENT_ID = "ci-client"
_CLIENT_SECRET = "ci-Secret-4f1c9e0b7d"  # a test value that must never be printed
_OPERATIONS = ("createCall", "getCallState", "getStatistics")


@contextmanager
def _serve(breakage: Breakage, *, auth_mode: str = "both") -> Iterator[str]:
    """The simulator (``auth_mode``) broken by ``breakage`` on 127.0.0.1, with the client
    ``ci-client`` for account 9900000; yields its base URL."""
    with serve(breakage, SimulatorConfig(auth_mode=auth_mode)) as base_url:  # type: ignore[arg-type]
        credential = {"clientSecret": _CLIENT_SECRET, "accounts": ["9900000"]}
        created = httpx.put(f"{base_url}/_sim/credentials/{_CLIENT_ID}", json=credential, timeout=10)
        assert created.status_code in (200, 201), created.text
        yield base_url


def _run_suite(
    pytester: pytest.Pytester, env: pytest.MonkeyPatch, base_url: str, contract: Path, *args: str
) -> tuple[pytest.RunResult, str, list[dict[str, Any]]]:
    env.setenv("BW_CLIENT_ID", _CLIENT_ID)
    env.setenv("BW_CLIENT_SECRET", _CLIENT_SECRET)
    env.setenv("BW_ACCOUNT_ID", "9900000")
    env.setenv("BW_VOICE_APPLICATION_ID", SIMULATOR_APPLICATION_ID)
    env.setenv("BW_NUMBER", SIMULATOR_NUMBER)
    result = pytester.runpytest(
        "--pyargs",
        "conformance.suites.test_api",
        "-m",
        "api",
        "--bw-target",
        base_url,
        "--bw-spec",
        str(contract),
        "--bw-max-examples",
        _BUDGET,
        *args,
        "-p",
        "no:cacheprovider",
        "--assert=plain",
    )
    log = httpx.get(f"{base_url}/_sim/requests", params={"limit": 100000}, timeout=10).json()["requests"]
    return result, "\n".join(result.outlines + result.errlines), log


def _assert_no_secret(output: str) -> None:
    assert _CLIENT_SECRET not in output
    made_up = expired_token(_CLIENT_ID, "9900000")
    for token in re.findall(r"eyJ[\w-]+\.[\w-]+\.[\w-]*", output):  # JWT-shaped: only the made-up one
        assert token == made_up, token


def _bearer_claims(request: Request) -> dict[str, Any]:
    header = request.header("authorization") or ""
    if not header.startswith("Bearer "):
        return {}
    parts = header[7:].split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _ok(response: Response) -> Response:
    return response.with_json({}, status=200)


# -------------------------------------------------------------------------------- passing runs
def test_suite_passes_on_an_oauth2_only_target_and_probes_every_credential(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    contract = trimmed_contract(tmp_path, _OPERATIONS)
    with _serve(Breakage("none", (), "", ()), auth_mode="oauth2") as base_url:
        result, output, log = _run_suite(pytester, clean_env, base_url, contract, "-k", "test_operation")
    assert result.ret == 0, output
    assert result.parseoutcomes().get("passed") == 5, output
    descriptions = {str(entry.get("description")) for entry in log if entry["status"] == 401}
    # Each probe reached the target: no token, a malformed one, the expired one, Basic (retired here).
    assert any("missing" in text for text in descriptions), descriptions
    assert any("malformed" in text for text in descriptions), descriptions
    assert any("signature" in text or "expired" in text for text in descriptions), descriptions
    assert any("Basic" in text for text in descriptions), descriptions
    _assert_no_secret(output)


def test_a_token_revoked_mid_run_is_renewed(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = {"count": 0}

    def revoke_once(request: Request, store: Any) -> Request:
        if request.path.startswith("/accounts/") and _bearer_claims(request).get("sub") == _CLIENT_ID:
            seen["count"] += 1
            if seen["count"] == 25:
                store.revoke_tokens(_CLIENT_ID)
        return request

    contract = trimmed_contract(tmp_path, _OPERATIONS)
    breakage = Breakage("token-revoked", (), "", (), on_request=revoke_once)
    with _serve(breakage, auth_mode="oauth2") as base_url:
        result, output, log = _run_suite(pytester, clean_env, base_url, contract, "-k", "test_operation")
    assert result.ret == 0, output
    revoked = [entry for entry in log if "revoked" in str(entry.get("description"))]
    assert revoked, "the run never sent the revoked token: nothing was renewed"
    issued = [entry for entry in log if entry["path"] == "/api/v1/oauth2/token" and entry["status"] == 200]
    assert len(issued) >= 2, issued


# -------------------------------------------------------------------------------- broken targets
def _accept_expired_token(request: Request, response: Response) -> Response:
    if response.status == 401 and _bearer_claims(request).get("jti") == "bw-conformance-expired-token":
        return _ok(response)
    return response


def _accept_basic(request: Request, response: Response) -> Response:
    if response.status == 401 and (request.header("authorization") or "").startswith("Basic "):
        return _ok(response)
    return response


def _forbidden_is_ok(request: Request, response: Response) -> Response:
    return _ok(response) if response.status == 403 else response


_BROKEN = [
    pytest.param(
        Breakage("expired-token", (), "", (), on_response=_accept_expired_token),
        "both",
        ("bw_auth_required", "with an expired token", "expected status 401, got 200", "Bearer eyJ"),
        id="expired-token-accepted",
    ),
    pytest.param(
        Breakage("basic-on-oauth2-only", (), "", (), on_response=_accept_basic),
        "oauth2",
        (
            "bw_auth_required",
            "with the client credentials as a Basic user",
            f'-u "{_CLIENT_ID}:$BW_CLIENT_SECRET"',
        ),
        id="basic-accepted-on-oauth2-only",
    ),
    pytest.param(
        Breakage("forbidden-is-ok", (), "", (), on_response=_forbidden_is_ok),
        "both",
        (
            "bw_cross_account_denied",
            "with account 9900001's credentials on account 9900000's path",
            "OTHER_TOKEN=$(curl -s -u bw-other-client:bw-other-client-secret",
            '-H "Authorization: Bearer $OTHER_TOKEN"',
        ),
        id="other-accounts-token-accepted",
    ),
]


@pytest.mark.parametrize(("breakage", "auth_mode", "expect"), _BROKEN)
def test_suite_fails_naming_the_rule_without_printing_a_secret(
    breakage: Breakage,
    auth_mode: str,
    expect: tuple[str, ...],
    pytester: pytest.Pytester,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    contract = trimmed_contract(tmp_path, ("getStatistics",))
    with _serve(replace(breakage), auth_mode=auth_mode) as base_url:
        result, output, _ = _run_suite(
            pytester, clean_env, base_url, contract, "-k", "test_operation[getStatistics]"
        )
    assert result.ret == 1, f"the suite passed a target with {breakage.name}:\n{output}"
    for text in expect:
        assert text in output, f"{breakage.name}: the failure does not say {text!r}:\n{output}"
    assert "Reproduce with:" in output
    _assert_no_secret(output)


# ------------------------------------------------------------------------- reproduce commands
def _settings(**values: Any) -> Any:
    from conformance.settings import load_settings

    return load_settings(values, environ={}, project_dir=Path("/"))


def test_reproduce_commands_fetch_a_token_from_variables() -> None:
    from conformance.api.report import curl_auth_for, curl_command

    settings = _settings(
        target="https://voice.example",
        auth="oauth2",
        client_id="my-client",
        client_secret=_CLIENT_SECRET,
        account_id="1",
        token_url="https://id.example/api/v1/oauth2/token",
    )
    command = curl_command(
        "GET",
        "https://voice.example/x",
        {"Authorization": "Bearer live.token.value"},
        auth=curl_auth_for(settings),
    )
    fetch, line = command.splitlines()
    assert fetch == (
        'TOKEN=$(curl -s -u "my-client:$BW_CLIENT_SECRET" -d grant_type=client_credentials '
        "https://id.example/api/v1/oauth2/token | jq -r .access_token)"
    )
    assert line == 'curl -X GET https://voice.example/x -H "Authorization: Bearer $TOKEN"'
    assert _CLIENT_SECRET not in command
    assert "live.token.value" not in command
    basic = _settings(
        target="https://voice.example", auth="basic", username="u", password="pw-1", account_id="1"
    )
    assert curl_command("GET", "https://voice.example/x", auth=curl_auth_for(basic)).endswith(
        '-u "u:$BW_PASSWORD"'
    )
    simulator = _settings(auth="oauth2")  # the embedded simulator's documented client is public
    assert "-u bw-client:bw-client-secret" in curl_command("GET", "http://h/x", auth=curl_auth_for(simulator))


def test_failure_reports_never_show_a_written_credential() -> None:
    from conformance.api.report import bearer_curl_auth, literal_curl_auth, with_curl_auth

    literal_curl_auth("Bearer not-a-token", "with a malformed token")
    secret_basic = base64.b64encode(b"user:" + _CLIENT_SECRET.encode()).decode()
    public_basic = base64.b64encode(b"bw-user:bw-pass").decode()
    report = "\n".join(
        [
            "Reproduce with:",
            "    curl -X GET -H 'Authorization: [Filtered]' http://h/x",
            "    curl -X GET -H 'Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln' http://h/y",
            f'    {{"Authorization": "Basic {secret_basic}"}} and Authorization: Basic {public_basic}',
            "    curl -H 'Authorization: Bearer not-a-token' http://h/z",
        ]
    )
    auth = bearer_curl_auth(token_url="http://h/token", client_id="c", client_secret=_CLIENT_SECRET)
    shown = with_curl_auth(report, auth)
    assert "eyJhbGciOi" not in shown
    assert secret_basic not in shown
    assert public_basic in shown  # the simulator's documented user
    assert "Bearer not-a-token" in shown  # made up by the suite to be refused
    assert (
        '    TOKEN=$(curl -s -u "c:$BW_CLIENT_SECRET" -d grant_type=client_credentials http://h/token'
        ' | jq -r .access_token)\n    curl -X GET -H "Authorization: Bearer $TOKEN" http://h/x'
    ) in shown


def test_the_expired_token_is_a_well_formed_jwt_that_expired_in_2020() -> None:
    import jwt

    token = expired_token("bw-client", "9900000")
    assert token == expired_token("bw-client", "9900000")  # the same in every run
    claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    assert claims["sub"] == "bw-client"
    assert claims["exp"] == 1577836800
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, "another key, long enough for HS256 (32+ bytes)", algorithms=["HS256"])
