"""The REST contract suite (marker ``api``).

* ``test_operation``: schemathesis over every operation of the contract: examples, coverage and
  fuzzing phases, every default check, and the Bandwidth checks (voiceApiError bodies, Location ==
  callUrl, id formats, call time order, 401 without or with wrong credentials, 403/404 across
  accounts).  One item per operation, named by its operationId (``test_operation[createCall]``);
  ``-k 'test_operation[createCall]'`` runs exactly that one.
* ``test_stateful_links``: the stateful phase, chaining operations through the contract's links.

Every hypothesis-driven test draws from the run's seed (``bw_seed``); every request authenticates
through the run's authenticator (OAuth2 bearer token or legacy Basic).
* Deterministic tests of what random inputs rarely reach: a completed call reads ``disconnected`` and
  refuses further updates with 409; ``listCalls`` filters filter; another account cannot see our calls.

Every failure names the rule, shows the request, the response and the expectation, and ends with a
command that reproduces it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import httpx
import pytest
import schemathesis

from conformance.api.pacing import CallBudgetExhaustedError
from conformance.api.report import CurlAuth, curl_auth_for, curl_auth_of, describe_response
from conformance.api.rules import call_time_problems, error_body_problems
from conformance.suites.conftest import operation_of
from conformance.tls import client_context

if TYPE_CHECKING:
    from schemathesis.schemas import BaseSchema

    from conformance.api import ApiRunner, SecondAccount
    from conformance.api.operations import OperationRef
    from conformance.settings import Settings
    from conformance.target import Target
    from conformance.webhooks.sink import SinkScope

pytestmark = pytest.mark.api

_HANGUP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'
# Simulator far ends (README): a person answers; busy.  Other targets treat them as plain numbers.
_ANSWERING_NUMBER = "+19995550000"
_BUSY_NUMBER = "+19995550001"
_SETTLE_SECONDS = 15.0  # how long state and listings may take to catch up ("near-realtime")


@pytest.mark.sandbox_safe
def test_operation(
    bw_operation: OperationRef,
    bw_api_schema: BaseSchema,
    bw_api_runner: ApiRunner,
    request: pytest.FixtureRequest,
) -> None:
    """One operation of the contract under every phase and check (schemathesis + Bandwidth rules)."""
    _run_operation(request, bw_api_schema, operation_of(bw_operation), bw_api_runner.call_and_validate)


def _run_operation(
    request: pytest.FixtureRequest, schema: BaseSchema, ref: OperationRef, check: Callable[[Any], object]
) -> None:
    """Run schemathesis' hypothesis test of one operation (examples, coverage and fuzzing phases, as
    configured), reporting failures and skips the way its pytest integration does."""
    from unittest import SkipTest

    from schemathesis.core.failures import FailureGroup, as_reported_failure
    from schemathesis.pytest._keys import track_schema

    from conformance.api import operation_test

    __tracebackhide__ = True
    track_schema(request.config, schema)  # schemathesis' after-run checks see it
    test = operation_test(schema, ref.label, lambda case: check(case))
    try:
        test()
    except FailureGroup as exc:
        raise as_reported_failure(exc) from None
    except SkipTest as exc:
        raise pytest.skip.Exception(str(exc)).with_traceback(exc.__traceback__) from None


def test_stateful_links(
    bw_api_schema: BaseSchema, bw_api_runner: ApiRunner, bw_settings: Settings, bw_seed: int
) -> None:
    """Sequences chained by the contract's OpenAPI links (createCall -> getCallState/updateCall/...)."""
    from conformance.api import stateful_machine, stateful_settings

    try:
        machine = stateful_machine(bw_api_schema, bw_api_runner, seed=bw_seed)
    except schemathesis.errors.NoLinksFound:
        pytest.skip("the contract declares no OpenAPI links, so there is no stateful phase")
    machine.run(settings=stateful_settings(bw_settings))


# ------------------------------------------------------------------------------------- helpers
def _account_path(settings: Settings, account_id: str | None = None) -> str:
    return f"/accounts/{account_id or settings.account_id}"


def _answering_number(target: Target) -> str:
    """A callee that answers: the simulator's far end, else the configured loopback number."""
    if target.has_control_api or not target.settings.loopback_number:
        return _ANSWERING_NUMBER
    return target.settings.loopback_number


def _user(settings: Settings) -> CurlAuth:
    """How reproduce commands authenticate as the account under test (no secret in them)."""
    return curl_auth_for(settings)


def _create_call(
    client: httpx.Client,
    target: Target,
    runner: ApiRunner,
    *,
    to: str,
    answer_url: str,
    **extra: Any,
) -> dict[str, Any]:
    settings = target.settings
    try:
        runner.pacer.before_call_creation()
    except CallBudgetExhaustedError as exc:
        pytest.skip(str(exc))
    body = {
        "from": settings.number,
        "to": to,
        "applicationId": settings.application_id,
        "answerUrl": answer_url,
        **extra,
    }
    response = runner.pacer.send(lambda: client.post(f"{_account_path(settings)}/calls", json=body))
    if response.status_code != 201:
        pytest.fail(
            describe_response(
                rule="createCall accepts a valid call",
                operation="createCall",
                response=response,
                expected="201 with a createCallResponse",
                auth=_user(settings),
            ),
            pytrace=False,
        )
    created: dict[str, Any] = response.json()
    return created


def _poll(
    send: Callable[[], httpx.Response],
    done: Callable[[httpx.Response], bool],
    timeout: float = _SETTLE_SECONDS,
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        response = send()
        if done(response) or time.monotonic() >= deadline:
            return response
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _json_list(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        value = response.json()
    except ValueError:
        return []
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _state(response: httpx.Response) -> str | None:
    try:
        value = response.json()
    except ValueError:
        return None
    return value.get("state") if isinstance(value, dict) else None


class _HeldAnswer:
    """A BXML reply that waits until released, so the call stays up while the test acts on it."""

    def __init__(self, timeout: float = 20.0) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.timeout = timeout

    def __call__(self, payload: dict[str, Any]) -> str:
        self.arrived.set()
        self.release.wait(self.timeout)
        return _HANGUP


@pytest.fixture
def held_answer(bw_webhooks: SinkScope) -> Iterator[_HeldAnswer]:
    """The sink scope answers ``answer`` webhooks only when the test releases them."""
    held = _HeldAnswer()
    bw_webhooks.reply("answer", held)
    yield held
    held.release.set()


# ------------------------------------------------------------------------ deterministic tests
@pytest.mark.sandbox_safe
def test_completed_call_reads_disconnected_and_refuses_updates(
    bw_client: httpx.Client,
    bw_target: Target,
    bw_api_runner: ApiRunner,
    bw_webhooks: SinkScope,
    held_answer: _HeldAnswer,
) -> None:
    """updateCall ``state=completed`` ends a live call: it then reads ``disconnected`` and later
    updates (state, redirect, BXML) answer 409 with a voiceApiError."""
    settings = bw_target.settings
    created = _create_call(
        bw_client,
        bw_target,
        bw_api_runner,
        to=_answering_number(bw_target),
        answer_url=bw_webhooks.url("answer"),
        disconnectUrl=bw_webhooks.url("disconnect"),
    )
    call_path = f"{_account_path(settings)}/calls/{created['callId']}"
    user = _user(settings)
    # The call is answered and waits for its BXML (a simulator answers at once; a real account rings).
    live = held_answer.arrived.wait(5.0 if bw_target.has_control_api else _SETTLE_SECONDS)

    send = bw_api_runner.pacer.send  # waits out 429 Retry-After
    completed = send(lambda: bw_client.post(call_path, json={"state": "completed"}))
    allowed = {200} if live else {200, 409}
    if completed.status_code not in allowed:
        pytest.fail(
            describe_response(
                rule="updateCall completes a live call",
                operation="updateCall",
                response=completed,
                expected=f"status {' or '.join(map(str, sorted(allowed)))}"
                + (" (the call was up, waiting for its answer BXML)" if live else ""),
                auth=user,
            ),
            pytrace=False,
        )
    held_answer.release.set()

    state = _poll(lambda: bw_client.get(call_path), lambda r: _state(r) == "disconnected")
    problems = [] if state.status_code == 200 else [f"status {state.status_code}"]
    if _state(state) != "disconnected":
        problems.append(f"state is {_state(state)!r}")
    elif state.json().get("endTime") is None:
        problems.append("endTime is null on a disconnected call")
    problems += call_time_problems(state.json()) if state.status_code == 200 else []
    if problems:
        pytest.fail(
            describe_response(
                rule="a completed call reads disconnected",
                operation="getCallState",
                response=state,
                expected=f"200 with state 'disconnected' and an endTime within {_SETTLE_SECONDS:.0f} s",
                problems=problems,
                auth=user,
            ),
            pytrace=False,
        )

    attempts: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("updateCall", lambda: bw_client.post(call_path, json={"state": "completed"})),
        ("updateCall", lambda: bw_client.post(call_path, json={"redirectUrl": bw_webhooks.url("redirect")})),
        (
            "updateCallBxml",
            lambda: bw_client.put(
                f"{call_path}/bxml", content=_HANGUP, headers={"Content-Type": "application/xml"}
            ),
        ),
    ]
    for operation, attempt in attempts:
        response = send(attempt)
        problems = [] if response.status_code == 409 else [f"status {response.status_code}"]
        problems += error_body_problems(response.status_code, dict(response.headers), response.content)
        if problems:
            pytest.fail(
                describe_response(
                    rule="an ended call cannot be modified",
                    operation=operation,
                    response=response,
                    expected="409 with a voiceApiError body",
                    problems=problems,
                    auth=user,
                ),
                pytrace=False,
            )


def _start_time(client: httpx.Client, call_path: str) -> datetime:
    response = _poll(
        lambda: client.get(call_path),
        lambda r: r.status_code == 200 and isinstance(r.json(), dict) and bool(r.json().get("startTime")),
    )
    value = response.json().get("startTime") if response.status_code == 200 else None
    if not isinstance(value, str):
        pytest.fail(
            describe_response(
                rule="a placed call has a startTime",
                operation="getCallState",
                response=response,
                expected=f"200 with a startTime within {_SETTLE_SECONDS:.0f} s",
            ),
            pytrace=False,
        )
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_list_calls_filters(
    bw_client: httpx.Client, bw_target: Target, bw_api_runner: ApiRunner, bw_webhooks: SinkScope
) -> None:
    """listCalls ``to``, ``from``, ``minStartTime`` and ``maxStartTime`` return exactly what they say."""
    settings = bw_target.settings
    calls_path = f"{_account_path(settings)}/calls"
    first = _create_call(
        bw_client, bw_target, bw_api_runner, to=_ANSWERING_NUMBER, answer_url=bw_webhooks.url("answer")
    )
    second = _create_call(
        bw_client, bw_target, bw_api_runner, to=_BUSY_NUMBER, answer_url=bw_webhooks.url("answer")
    )
    ours = {first["callId"], second["callId"]}
    starts = [_start_time(bw_client, f"{calls_path}/{call_id}") for call_id in sorted(ours)]
    low = min(starts) - timedelta(seconds=1)
    high = max(starts) + timedelta(seconds=1)
    day = timedelta(days=1)
    a_number, b_number, number = _ANSWERING_NUMBER, _BUSY_NUMBER, settings.number or ""

    def starts_within(earliest: datetime | None, latest: datetime | None) -> _Predicate:
        return lambda call: _within(call.get("startTime"), earliest, latest)

    cases = [
        _FilterCase({"to": a_number}, {first["callId"]}, lambda c: c.get("to") == a_number, "to"),
        _FilterCase({"to": b_number}, {second["callId"]}, lambda c: c.get("to") == b_number, "to"),
        _FilterCase(
            {"from": number, "to": a_number},
            {first["callId"]},
            lambda c: c.get("from") == number and c.get("to") == a_number,
            "from and to",
        ),
        _FilterCase({"from": "+19995559999", "to": a_number}, set(), lambda c: False, "from and to"),
        _FilterCase(
            {"to": a_number, "minStartTime": _iso(high + day)},
            set(),
            starts_within(high + day, None),
            "minStartTime",
        ),
        _FilterCase(
            {"to": a_number, "maxStartTime": _iso(low - day)},
            set(),
            starts_within(None, low - day),
            "maxStartTime",
        ),
        _FilterCase(
            {"to": a_number, "minStartTime": _iso(low), "maxStartTime": _iso(high)},
            {first["callId"]},
            starts_within(low, high),
            "minStartTime and maxStartTime",
        ),
        _FilterCase(
            {"to": b_number, "disconnectCause": "busy"},
            {second["callId"]},
            lambda c: c.get("disconnectCause") == "busy",
            "disconnectCause",
        ),
        _FilterCase(
            {"to": a_number, "disconnectCause": "busy"},
            set(),
            lambda c: c.get("disconnectCause") == "busy",
            "disconnectCause",
        ),
    ]
    user = _user(settings)
    for case in cases:
        response = _poll(partial(bw_client.get, calls_path, params=case.params), case.satisfied)
        problems = case.problems(response, ours)
        if problems:
            pytest.fail(
                describe_response(
                    rule="listCalls filters filter",
                    operation="listCalls",
                    response=response,
                    expected=f"200; every listed call matches {case.wording}; "
                    f"of ours, listed: {sorted(case.listed) or 'none'}",
                    problems=problems[:10],
                    auth=user,
                ),
                pytrace=False,
            )


def test_list_calls_pages_with_link_next(
    bw_client: httpx.Client, bw_target: Target, bw_api_runner: ApiRunner, bw_webhooks: SinkScope
) -> None:
    """listCalls with ``pageSize`` returns at most that many calls and a ``Link: <...>; rel="next"``
    header while more remain; following the links lists every call exactly once."""
    settings = bw_target.settings
    calls_path = f"{_account_path(settings)}/calls"
    to = _BUSY_NUMBER  # ends at once, so the test leaves nothing running
    ours = {
        _create_call(bw_client, bw_target, bw_api_runner, to=to, answer_url=bw_webhooks.url("answer"))[
            "callId"
        ]
        for _ in range(3)
    }
    query = {"to": to, "pageSize": "2"}
    first = _poll(
        partial(bw_client.get, calls_path, params={"to": to}),
        lambda r: ours <= {item.get("callId") for item in _json_list(r)},
    )
    expected_total = len(_json_list(first))
    seen: list[str] = []
    problems: list[str] = []
    url: str | None = str(bw_client.build_request("GET", calls_path, params=query).url)
    pages = 0
    while url is not None and pages <= expected_total:
        response = bw_client.get(url)
        pages += 1
        items = _json_list(response)
        if response.status_code != 200:
            problems.append(f"page {pages}: status {response.status_code}")
            break
        if len(items) > 2:
            problems.append(f"page {pages}: {len(items)} calls with pageSize=2")
        seen += [str(item.get("callId")) for item in items]
        link = response.links.get("next")
        url = urljoin(str(response.url), link["url"]) if link and link.get("url") else None
    duplicates = sorted({call_id for call_id in seen if seen.count(call_id) > 1})
    problems += [f"{call_id} listed on more than one page" for call_id in duplicates]
    problems += [f"our call {call_id} never listed" for call_id in sorted(ours - set(seen))]
    if len(seen) < expected_total:
        problems.append(f"{len(seen)} calls over {pages} pages, but {expected_total} match the filter")
    if problems:
        pytest.fail(
            describe_response(
                rule="listCalls pages with Link rel=next",
                operation="listCalls",
                response=response,
                expected='pages of at most pageSize calls, Link: <...>; rel="next" while more remain',
                problems=problems[:10],
                auth=_user(settings),
            ),
            pytrace=False,
        )


_Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class _FilterCase:
    """One listCalls query: which of our calls it must list, and what every listed call must meet."""

    params: dict[str, str]
    listed: set[str]
    predicate: _Predicate
    wording: str

    def satisfied(self, response: httpx.Response) -> bool:
        ids = {item.get("callId") for item in _json_list(response)}
        return response.status_code == 200 and self.listed <= ids

    def problems(self, response: httpx.Response, ours: set[str]) -> list[str]:
        items = _json_list(response)
        ids = {str(item.get("callId")) for item in items}
        problems = [] if response.status_code == 200 else [f"status {response.status_code}"]
        problems += [f"our call {call_id} is missing" for call_id in sorted(self.listed - ids)]
        problems += [
            f"our call {call_id} should not be listed" for call_id in sorted((ours - self.listed) & ids)
        ]
        problems += [
            f"{item.get('callId')} does not match {self.wording}"
            for item in items
            if not self.predicate(item)
        ]
        return problems


def _within(value: Any, earliest: datetime | None, latest: datetime | None) -> bool:
    if not isinstance(value, str):
        return False
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (earliest is None or moment >= earliest) and (latest is None or moment <= latest)


@pytest.mark.sandbox_safe
def test_other_account_cannot_see_our_calls(
    bw_client: httpx.Client,
    bw_target: Target,
    bw_api_runner: ApiRunner,
    bw_webhooks: SinkScope,
    bw_second_account: SecondAccount,
) -> None:
    """Another account's credentials get 403/404 on our call, and 404 for it under their own account."""
    other = bw_second_account.credentials
    if other is None:
        pytest.skip(bw_second_account.reason)
    settings = bw_target.settings
    created = _create_call(
        bw_client,
        bw_target,
        bw_api_runner,
        to=_answering_number(bw_target),
        answer_url=bw_webhooks.url("answer"),
    )
    call_id = created["callId"]
    other_user = curl_auth_of(other, other=True)
    probes = [
        (f"{_account_path(settings)}/calls/{call_id}", {403, 404}, "our call with their credentials"),
        (
            f"{_account_path(settings, other.account_id)}/calls/{call_id}",
            {404},
            "our call under their account",
        ),
    ]
    with httpx.Client(
        base_url=bw_target.base_url,
        auth=other.auth,
        timeout=settings.request_timeout,
        verify=client_context(),
    ) as theirs:
        for path, statuses, what in probes:
            response = bw_api_runner.pacer.send(partial(theirs.get, path))
            problems = [] if response.status_code in statuses else [f"status {response.status_code}"]
            problems += error_body_problems(response.status_code, dict(response.headers), response.content)
            if problems:
                pytest.fail(
                    describe_response(
                        rule="accounts cannot see each other's calls",
                        operation=f"getCallState ({what})",
                        response=response,
                        expected=f"status {' or '.join(map(str, sorted(statuses)))} with a voiceApiError",
                        problems=problems,
                        auth=other_user,
                    ),
                    pytrace=False,
                )
