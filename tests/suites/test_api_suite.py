"""The shipped api suite: passes on the embedded simulator, fails naming the rule on broken targets.

The suite runs in-process with pytester (the plugin comes from the entry point).  Broken targets are
the simulator behind a middleware that breaks one rule (``broken_targets.py``); each run uses a
contract trimmed to the operations that exercise the rule, and a small example budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.api import (
    CallBudgetExhaustedError,
    CallPacer,
    Credentials,
    api_config,
    find_second_account,
    load_api_schema,
    parse_retry_after,
    resolve_spec,
)
from conformance.api.report import curl_command
from conformance.api.rules import (
    call_time_problems,
    error_body_problems,
    id_format_problems,
    location_problems,
)
from conformance.errors import ConfigurationError
from conformance.settings import SIMULATOR_APPLICATION_ID, SIMULATOR_NUMBER, Settings, load_settings
from conformance.simulator import Simulator
from tests.suites.broken_targets import BREAKAGES, Breakage, serve, trimmed_contract

pytest_plugins = ["pytester"]

_BUDGET = "2"


def _run_suite(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # --assert=plain: rewriting modules that the simulator's threads import lazily while hypothesis
    # has changed the recursion limit trips a CPython 3.11 bug ("AST constructor recursion depth
    # mismatch"); the suite reports through pytest.fail and schemathesis messages, not asserts.
    return pytester.runpytest(*args, "-p", "no:cacheprovider", "--assert=plain")


def _output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def test_api_suite_passes_on_the_embedded_simulator(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    result = _run_suite(pytester, "--pyargs", "conformance.suites", "-m", "api", "--bw-max-examples", _BUDGET)
    output = _output(result)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, output
    # Every deterministic test ran (none skipped on the simulator: it has a second account).
    assert outcomes.get("passed", 0) >= 5, output
    assert "skipped" not in outcomes, output


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.name for b in BREAKAGES])
def test_api_suite_fails_on_a_broken_target(
    breakage: Breakage, pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    contract = trimmed_contract(tmp_path, breakage.operations)
    clean_env.setenv("BW_USERNAME", "bw-user")
    clean_env.setenv("BW_PASSWORD", "bw-pass")
    clean_env.setenv("BW_ACCOUNT_ID", "9900000")
    clean_env.setenv("BW_VOICE_APPLICATION_ID", SIMULATOR_APPLICATION_ID)
    clean_env.setenv("BW_NUMBER", SIMULATOR_NUMBER)
    with serve(breakage) as base_url:
        result = _run_suite(
            pytester,
            "--pyargs",
            "conformance.suites.test_api",  # only this suite: others' collection cannot mask the result
            "-m",
            "api",
            "-k",
            breakage.select,
            "--bw-target",
            base_url,
            "--bw-spec",
            str(contract),
            "--bw-max-examples",
            _BUDGET,
        )
    output = _output(result)
    assert result.ret == 1, f"the suite passed a target with {breakage.name}:\n{output}"
    for text in breakage.expect:
        assert text in output, f"{breakage.name}: the failure does not name {text!r}:\n{output}"
    assert "Reproduce" in output, output


# ------------------------------------------------------------------ the rules behind the checks
_CALL_ID = "c-15ac29a2-1331029c-2cb0-4a07-b215-b22865662d85"
_JSON = {"content-type": ["application/json"]}


def test_error_body_rule_accepts_a_voice_api_error() -> None:
    body = b'{"type": "validation", "description": "Invalid to", "id": null}'
    assert error_body_problems(400, _JSON, body) == []
    assert error_body_problems(200, {"content-type": ["text/plain"]}, b"ok") == []


@pytest.mark.parametrize(
    ("headers", "body", "named"),
    [
        ({"content-type": ["text/plain"]}, b"boom", "Content-Type"),
        (_JSON, b"<html>", "non-JSON"),
        (_JSON, b"[1, 2]", "got list"),
        (_JSON, b'{"type": "validation"}', "voiceApiError.description"),
        (_JSON, b'{"type": "", "description": "x"}', "voiceApiError.type"),
        (_JSON, b'{"type": "a", "description": "b", "id": 7}', "voiceApiError.id"),
    ],
)
def test_error_body_rule_names_what_is_wrong(headers: dict[str, list[str]], body: bytes, named: str) -> None:
    problems = error_body_problems(404, headers, body)
    assert any(named in problem for problem in problems), problems


def test_location_rule() -> None:
    url = f"https://voice.example/api/v2/accounts/9900000/calls/{_CALL_ID}"
    body = {"callId": _CALL_ID, "callUrl": url}
    assert location_problems(201, {"location": [url]}, body, account_id="9900000") == []
    assert location_problems(400, {}, {}, account_id="9900000") == []
    assert "must equal" in " ".join(location_problems(201, {"location": ["https://x/y"]}, body))
    assert "Location header" in " ".join(location_problems(201, {}, body))
    wrong_account = location_problems(201, {"location": [url]}, body, account_id="9900001")
    assert "/accounts/9900001/calls/" in " ".join(wrong_account)


def test_id_format_rule() -> None:
    good = {
        "callId": _CALL_ID,
        "parentCallId": None,
        "accountId": "9900000",
        "applicationId": "11111111-1111-4111-8111-111111111111",
        "recordingId": "r-fbe05094-9fd2afe9-bf5b-4c68-820a-41a01c1c5833",
    }
    assert id_format_problems(good) == []
    assert id_format_problems([good, good]) == []
    bad = id_format_problems([{"callId": "c-1234"}])
    assert len(bad) == 1
    assert "$[0].callId" in bad[0]
    conference = {"id": "conf-fe23a767-a75a5b77-20c5-4a3c-bab8-b4b9d2f4f8f3", "name": "x"}
    assert id_format_problems(conference, id_kind="conference") == []
    assert id_format_problems({"id": "42"}, id_kind="conference") != []
    assert id_format_problems({"id": "42"}) == []  # a bare id is checked only where its kind is known


def test_call_time_rule() -> None:
    ordered = {
        "enqueuedTime": "2026-01-01T00:00:00Z",
        "startTime": "2026-01-01T00:00:01Z",
        "answerTime": "2026-01-01T00:00:05.5Z",
        "endTime": None,
        "state": "answered",
    }
    assert call_time_problems(ordered) == []
    assert call_time_problems([ordered]) == []
    reversed_ = dict(ordered, answerTime="2025-12-31T23:59:59Z")
    assert any("must not be after answerTime" in p for p in call_time_problems(reversed_))
    assert any("ISO 8601" in p for p in call_time_problems(dict(ordered, startTime="yesterday")))
    assert any("endTime" in p for p in call_time_problems(dict(ordered, state="disconnected")))


# ------------------------------------------------------------------------------- pacing
class _FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_call_pacer_spaces_call_creation_and_keeps_the_budget() -> None:
    fake = _FakeTime()
    pacer = CallPacer(calls_per_second=2.0, call_budget=3, sleep=fake.sleep, clock=fake.clock)
    for _ in range(3):
        pacer.before_call_creation()
    assert fake.slept == [0.5, 0.5]
    with pytest.raises(CallBudgetExhaustedError) as caught:
        pacer.before_call_creation()
    assert caught.value.reason == "call-budget-exhausted"
    assert pacer.calls_created == 3


@dataclass
class _Answer:
    status_code: int
    headers: dict[str, list[str]] = field(default_factory=dict)


def test_call_pacer_waits_out_429_with_retry_after() -> None:
    fake = _FakeTime()
    answers = iter([_Answer(429, {"retry-after": ["2"]}), _Answer(429, {"Retry-After": ["1"]}), _Answer(201)])
    pacer = CallPacer(sleep=fake.sleep, clock=fake.clock)
    assert pacer.send(lambda: next(answers)).status_code == 201
    assert fake.slept == [2.0, 1.0]


def test_call_pacer_gives_up_on_unusable_or_endless_retry_after() -> None:
    fake = _FakeTime()
    pacer = CallPacer(sleep=fake.sleep, clock=fake.clock, max_retries=2, max_wait=10)
    assert pacer.send(lambda: _Answer(429)).status_code == 429  # no Retry-After
    assert pacer.send(lambda: _Answer(429, {"retry-after": ["600"]})).status_code == 429  # too long
    assert pacer.send(lambda: _Answer(429, {"retry-after": ["1"]})).status_code == 429  # retries spent
    assert fake.slept == [1.0, 1.0]


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# ------------------------------------------------------------------------ configuration
def _settings(**changes: object) -> Settings:
    return replace(load_settings({}, environ={}, project_dir=Path("/")), **changes)  # type: ignore[arg-type]


def test_api_config_turns_on_every_phase_and_the_bandwidth_checks() -> None:
    config = api_config(_settings(max_examples=7), base_url="http://127.0.0.1:1")
    project = config.projects.get_default()
    phases = project.phases_for(operation=None)
    assert phases.examples.enabled
    assert phases.coverage.enabled
    assert phases.fuzzing.enabled
    assert phases.stateful.enabled
    assert project.parameters == {
        "path.accountId": "9900000",
        "body.applicationId": "11111111-1111-4111-8111-111111111111",
    }
    kwargs = project.checks_config_for().custom_kwargs
    assert {"bw_error_body", "bw_auth_required", "bw_id_formats"} <= set(kwargs)
    assert "bw_cross_account_denied" not in kwargs  # no second account given
    other = Credentials("9900001", "bw-other", "bw-other-pass")
    with_other = api_config(_settings(), base_url="http://127.0.0.1:1", second_account=other)
    other_kwargs = with_other.projects.get_default().checks_config_for().custom_kwargs
    assert other_kwargs["bw_cross_account_denied"]["active"]
    # The probes find their credentials by run id: the configuration itself names no secret.
    assert other_kwargs["bw_cross_account_denied"]["run_id"] == other_kwargs["bw_auth_required"]["run_id"]
    assert "bw-other-pass" not in repr(other_kwargs)
    assert with_other.projects.get_default().auth.basic is None  # requests use the run's authenticator


def test_sandbox_profile_does_not_fuzz_call_creation(tmp_path: Path) -> None:
    settings = _settings(profile="sandbox", target="https://voice.example", spec=None)
    schema: Any = load_api_schema(settings, base_url="https://voice.example")
    create = schema.find_operation_by_id("createCall")
    get_state = schema.find_operation_by_id("getCallState")
    phases = schema.config.phases_for(operation=create)
    assert phases.examples.enabled
    assert not phases.coverage.enabled
    assert not phases.fuzzing.enabled
    assert schema.config.phases_for(operation=get_state).fuzzing.enabled


def test_missing_spec_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_spec(str(tmp_path / "nope.yml"))
    assert caught.value.reason == "spec-not-found"


def test_no_second_account_without_control_api_or_settings() -> None:
    found = find_second_account(_settings(), base_url="http://127.0.0.1:1", has_control_api=False)
    assert found.credentials is None
    assert "second account" in found.reason


def test_curl_command_quotes_and_drops_credentials() -> None:
    line = curl_command(
        "post",
        "http://h/accounts/1/calls?a=b c",
        {"Authorization": "Basic eA==", "Content-Type": "application/json"},
        b'{"tag": "it\'s"}',
        user="bw-user:bw-pass",
    )
    assert line.startswith("curl -X POST 'http://h/accounts/1/calls?a=b c' -u bw-user:bw-pass")
    assert "Basic eA==" not in line
    assert "-H 'Content-Type: application/json'" in line


def test_sandbox_profile_runs_only_safe_tests_within_the_call_budget(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytester.makepyprojecttoml("[tool.bw-conformance]\ncall-budget = 2\ncalls-per-second = 50\n")
    contract = trimmed_contract(tmp_path, ("createCall", "getCallState"))
    clean_env.setenv("BW_USERNAME", "bw-user")
    clean_env.setenv("BW_PASSWORD", "bw-pass")
    clean_env.setenv("BW_ACCOUNT_ID", "9900000")
    clean_env.setenv("BW_VOICE_APPLICATION_ID", SIMULATOR_APPLICATION_ID)
    clean_env.setenv("BW_NUMBER", SIMULATOR_NUMBER)
    with Simulator() as simulator:
        result = _run_suite(
            pytester,
            "--pyargs",
            "conformance.suites.test_api",
            "-m",
            "api",
            "--bw-profile",
            "sandbox",
            "--bw-target",
            simulator.base_url,
            "--bw-spec",
            str(contract),
            "--bw-max-examples",
            _BUDGET,
            "-rs",
            "--rootdir",
            str(pytester.path),  # where the settings read pyproject.toml
        )
        log = httpx.get(f"{simulator.base_url}/_sim/requests", params={"limit": 100000}).json()["requests"]
    output = _output(result)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    # test_operation passes for each of the four operations of the trimmed contract (createCall,
    # listCalls, getCallState, updateCall).  Not sandbox_safe: the stateful phase and the list-filter
    # and paging tests (they call simulator-only numbers); the two deterministic tests that place a
    # call find the budget spent by test_operation[createCall].
    assert outcomes.get("passed") == 4, output
    assert outcomes.get("skipped") == 5, output
    assert output.count("not sandbox_safe") == 3, output
    created = [r for r in log if r["operation"] == "createCall" and r["status"] == 201]
    assert 1 <= len(created) <= 2, [(r["seq"], r["status"]) for r in log if r["operation"] == "createCall"]
    assert "call budget of 2 calls for this run is spent" in output  # the deterministic tests skip


def test_curl_command_never_prints_a_secret_password() -> None:
    line = curl_command("GET", "http://h/x", {}, None, user="real-user:s3cret")
    assert "s3cret" not in line
    assert line.endswith('-u "real-user:$BW_PASSWORD"')
    other = curl_command("GET", "http://h/x", {}, None, user="o:x", env_name="BW_OTHER_PASSWORD")
    assert other.endswith('-u "o:$BW_OTHER_PASSWORD"')


def test_public_surface_of_conformance_api() -> None:
    import conformance.api as api

    assert sorted(api.__all__) == sorted(
        [
            "CHECK_NAMES",
            "ApiRunner",
            "CallBudgetExhaustedError",
            "CallPacer",
            "Credentials",
            "SecondAccount",
            "api_config",
            "find_second_account",
            "load_api_schema",
            "operation_test",
            "pacer_for",
            "parse_retry_after",
            "primary_credentials",
            "resolve_spec",
            "stateful_machine",
            "stateful_settings",
        ]
    )
    assert all(hasattr(api, name) for name in api.__all__)
    assert set(api.CHECK_NAMES) == {
        "bw_error_body",
        "bw_create_call_location",
        "bw_id_formats",
        "bw_call_times_ordered",
        "bw_auth_required",
        "bw_cross_account_denied",
    }


def _plain_api() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    spec = {
        "openapi": "3.1.0",
        "info": {"title": "not the Voice API", "version": "1"},
        "paths": {"/things": {"get": {"responses": {"404": {"description": "none"}}}}},
    }

    async def openapi(request: StarletteRequest) -> JSONResponse:
        return JSONResponse(spec)

    async def things(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse("nothing here", status_code=404)

    return Starlette(routes=[Route("/openapi.json", openapi), Route("/things", things)])


def test_bandwidth_checks_only_act_on_schemas_configured_for_them() -> None:
    import schemathesis

    from conformance.api.checks import bw_error_body

    app = _plain_api()
    plain = schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config())
    case = plain["/things"]["GET"].Case()
    case.validate_response(case.call(), checks=[bw_error_body])  # inert: not a Voice API schema

    voice = schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=api_config(_settings(), base_url="http://localhost")
    )
    case = voice["/things"]["GET"].Case()
    with pytest.raises(schemathesis.errors.FailureGroup) as caught:
        case.validate_response(case.call(), checks=[bw_error_body])
    assert "bw_error_body" in str(caught.value)
    assert "voiceApiError" in str(caught.value)


def test_made_up_callback_urls_are_kept_on_this_machine() -> None:
    from conformance.api.hooks import local_callback_base, redirect_callback_urls

    base = "http://127.0.0.1:9/unreachable"
    body = {
        "answerUrl": "https://app.example.com/answer?x=1",
        "disconnectUrl": "http://127.0.0.1:5000/keep",
        "tag": "https://not-a-callback.example.com",
        "machineDetection": {"callbackUrl": "https://md.example.org"},
        "redirectUrl": "ftp://stays.example.com",
    }
    assert redirect_callback_urls(body, base) == {
        "answerUrl": "http://127.0.0.1:9/unreachable/app.example.com/answer?x=1",
        "disconnectUrl": "http://127.0.0.1:5000/keep",
        "tag": "https://not-a-callback.example.com",
        "machineDetection": {"callbackUrl": "http://127.0.0.1:9/unreachable/md.example.org/"},
        "redirectUrl": "ftp://stays.example.com",
    }
    local = local_callback_base("http://127.0.0.1:8080")
    assert local is not None
    assert local.startswith("http://127.0.0.1:")
    assert local_callback_base("https://voice.bandwidth.com/api/v2") is None
