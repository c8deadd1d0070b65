"""The shipped bxml suite: passes on the simulator; fails, naming the rule, on a simulator that
answers 204 to invalid PUT BXML (:class:`~tests.suites.tampering_proxy.AcceptInvalidBxml`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.settings import (
    SIMULATOR_ACCOUNT_ID,
    SIMULATOR_APPLICATION_ID,
    SIMULATOR_LOOPBACK_NUMBER,
    SIMULATOR_NUMBER,
)
from conformance.suites.loopback import LOOPBACK_INITIATE_PATH
from tests.suites.tampering_proxy import (
    AcceptInvalidBxml,
    HideControlApi,
    SinkLink,
    Tamper,
    TamperingProxy,
    serve_simulator,
)
from tests.suites.test_flows_suite import output_of, run_suite, simulator_env

pytest_plugins = ["pytester"]
__all__ = ["simulator_env"]

_BUDGET = "8"


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with serve_simulator() as base_url:
        yield base_url


def test_bxml_suite_passes_on_the_simulator(
    pytester: pytest.Pytester, simulator: str, simulator_env: pytest.MonkeyPatch
) -> None:
    result = run_suite(pytester, "-m", "bxml", "--bw-target", simulator, "--bw-max-examples", _BUDGET)
    output = output_of(result)
    assert result.ret == 0, output
    assert result.parseoutcomes().get("passed") == 2, output


def test_bxml_suite_fails_when_invalid_put_bxml_is_accepted(
    pytester: pytest.Pytester, simulator_env: pytest.MonkeyPatch
) -> None:
    wrapped: list[AcceptInvalidBxml] = []

    def wrap(app: object) -> AcceptInvalidBxml:
        middleware = AcceptInvalidBxml(app)  # type: ignore[arg-type]
        wrapped.append(middleware)
        return middleware

    with serve_simulator(wrap) as base_url:
        result = run_suite(pytester, "-m", "bxml", "--bw-target", base_url, "--bw-max-examples", _BUDGET)
    output = output_of(result)
    assert wrapped[0].rewritten > 0, output
    outcomes = result.parseoutcomes()
    assert result.ret == 1, f"the bxml suite passed a target that accepts invalid BXML:\n{output}"
    assert outcomes.get("failed") == 1, output
    assert outcomes.get("passed") == 1, output  # valid documents are still accepted
    assert "broke rule 'invalid BXML is rejected with 400'" in output, output
    reproduce = f"reproduce: pytest --pyargs conformance.suites --bw-target {base_url} --bw-seed "
    assert reproduce in output, output
    assert "-k test_invalid_bxml_is_rejected_without_harming_the_call" in output, output


def test_bxml_suite_never_dials_on_a_target_without_the_control_api(
    pytester: pytest.Pytester, simulator_env: pytest.MonkeyPatch
) -> None:
    """Elsewhere a generated phone number could be real: no document may make the target dial."""
    apps: list[Any] = []

    def wrap(app: Any) -> HideControlApi:
        apps.append(app)
        return HideControlApi(app)

    with (
        serve_simulator(wrap, time_scale=1.0) as base_url,
        TamperingProxy(Tamper("nothing", lambda exchange, forward: forward(exchange))) as proxy,
    ):
        store = apps[0].state.runtime.store
        application = store.accounts[SIMULATOR_ACCOUNT_ID].applications[SIMULATOR_APPLICATION_ID]
        application.call_initiated_callback_url = f"{proxy.url}/{LOOPBACK_INITIATE_PATH}"
        result = run_suite(
            pytester, "-m", "bxml", "--bw-target", base_url, "--bw-callback-base-url", proxy.url,
            "--bw-max-examples", _BUDGET, plugins=[SinkLink(proxy)],
        )  # fmt: skip
        calls = list(store.calls.values())
    output = output_of(result)
    assert result.ret == 0, output
    assert result.parseoutcomes().get("passed") == 2, output
    placed = {(call.from_, call.to, call.direction) for call in calls}
    assert placed <= {
        (SIMULATOR_NUMBER, SIMULATOR_LOOPBACK_NUMBER, "outbound"),
        (SIMULATOR_NUMBER, SIMULATOR_LOOPBACK_NUMBER, "inbound"),
    }, placed


def test_localise_moves_every_absolute_url_and_keeps_documents_valid() -> None:
    from conformance.bxml import MAX_DOCUMENT_BYTES, is_valid
    from conformance.bxml.strategies import pad_to
    from conformance.suites.test_bxml import NOWHERE, localise

    document = (
        '<Response><Redirect redirectUrl="https://myapp.example.com/next" username="u" password="p"/>'
        "<PlayAudio>http://voice.example.org/a.wav</PlayAudio><PlayAudio>relative/b.mp3</PlayAudio></Response>"
    )
    moved = localise(document)
    assert f'redirectUrl="https://{NOWHERE}/next"' in moved  # credentials still need https
    assert f"<PlayAudio>http://{NOWHERE}/a.wav</PlayAudio>" in moved
    assert "<PlayAudio>relative/b.mp3</PlayAudio>" in moved
    assert "example" not in moved
    # bxml.test is shorter than NOWHERE, so the padding must give way
    grows = '<Response><Redirect redirectUrl="https://bxml.test/x"/></Response>'
    padded = pad_to(grows, MAX_DOCUMENT_BYTES - 1)
    assert is_valid(padded)
    moved = localise(padded)
    assert len(moved.encode()) <= MAX_DOCUMENT_BYTES - 1
    assert is_valid(moved)
    assert "bxml.test" not in moved
