"""The shipped flows suite: passes on the simulator, fails naming the rule on broken targets.

The suite runs in-process with pytester: on the embedded simulator (no target given); on a
simulator served here (``--bw-target``) behind a
:class:`~tests.suites.tampering_proxy.TamperingProxy` between the target and the suite's sink
(``--bw-callback-base-url``), each run selecting the flow that must catch the breakage; and on a
simulator without its control API, set up the way the harness documents for other targets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conformance.settings import (
    SIMULATOR_ACCOUNT_ID,
    SIMULATOR_APPLICATION_ID,
    SIMULATOR_LOOPBACK_NUMBER,
    SIMULATOR_NUMBER,
    SIMULATOR_PASSWORD,
    SIMULATOR_USERNAME,
)
from conformance.suites.loopback import LOOPBACK_INITIATE_PATH, LOOPBACK_STATUS_PATH
from tests.suites.tampering_proxy import (
    HideControlApi,
    SinkLink,
    Tamper,
    TamperingProxy,
    drop_event,
    fix_invalid_bxml,
    reorder_events,
    rewrite_event_type,
    rewrite_field,
    serve_simulator,
    strip_header,
    strip_tag,
    swallow_path,
)

pytest_plugins = ["pytester"]

#: Flows of the suite (every test function; parametrised ones count once per case).
FLOW_TESTS = 34


def output_of(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with serve_simulator() as base_url:
        yield base_url


@pytest.fixture
def simulator_env(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The embedded simulator's account, as a user would configure a target."""
    clean_env.setenv("BW_ACCOUNT_ID", SIMULATOR_ACCOUNT_ID)
    clean_env.setenv("BW_USERNAME", SIMULATOR_USERNAME)
    clean_env.setenv("BW_PASSWORD", SIMULATOR_PASSWORD)
    clean_env.setenv("BW_VOICE_APPLICATION_ID", SIMULATOR_APPLICATION_ID)
    clean_env.setenv("BW_NUMBER", SIMULATOR_NUMBER)
    clean_env.setenv("BW_LOOPBACK_NUMBER", SIMULATOR_LOOPBACK_NUMBER)
    return clean_env


def run_suite(pytester: pytest.Pytester, *args: str, plugins: list[object] | None = None) -> pytest.RunResult:
    return pytester.runpytest(
        "--pyargs", "conformance.suites", "-p", "no:cacheprovider", *args, plugins=plugins or []
    )


def test_flows_suite_passes_on_the_embedded_simulator(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    result = run_suite(pytester, "-m", "flows")
    output = output_of(result)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == FLOW_TESTS, output
    assert "failed" not in outcomes, output
    assert "skipped" not in outcomes, output  # the embedded simulator has the far ends


def test_sandbox_profile_runs_only_the_sandbox_safe_flows(
    pytester: pytest.Pytester, simulator: str, simulator_env: pytest.MonkeyPatch
) -> None:
    result = run_suite(
        pytester, "-m", "flows", "-k", "unanswered or gather_times_out", "--bw-target", simulator,
        "--bw-profile", "sandbox",
    )  # fmt: skip
    output = output_of(result)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped") == 3, output  # the far-end flows are not sandbox_safe
    assert outcomes.get("passed") == 1, output


@dataclass(frozen=True)
class Broken:
    tamper: Tamper
    select: str  # -k: the flow that must catch it
    rule: str  # the rule the failure must name


BROKEN = {
    "dropped-webhook": Broken(
        drop_event("recordingAvailable"),
        "test_record_then_recording_and_transcription",
        "broke rule 'missing recordingAvailable'",
    ),
    "webhooks-out-of-order": Broken(
        reorder_events("recordingAvailable", "transcriptionAvailable"),
        "test_record_then_recording_and_transcription",
        "broke rule 'order transcriptionAvailable'",
    ),
    "wrong-event-type": Broken(
        rewrite_event_type("disconnect", "hangup"),
        "test_outbound_answered_and_hung_up",
        "broke rule 'payload unknown-event-type'",
    ),
    "tag-lost": Broken(strip_tag(), "test_tag_propagation_and_tag_verb", "broke rule 'field answer.tag'"),
    "fallback-ignored": Broken(
        swallow_path("answer-fallback"),
        "test_fallback_url_when_the_primary_fails",
        "broke rule 'missing answer'",
    ),
    "time-goes-backwards": Broken(
        rewrite_field("disconnect", "eventTime", "2001-01-01T00:00:00.000Z"),
        "test_outbound_answered_and_hung_up",
        "broke rule 'field disconnect.eventTime'",
    ),
    "callback-auth-dropped": Broken(
        strip_header("Authorization"),
        "test_callback_basic_auth",
        "broke rule 'answer carries the Basic credentials'",
    ),
    "invalid-bxml-accepted": Broken(
        fix_invalid_bxml(),
        "test_invalid_bxml_disconnects_the_call",
        "broke rule 'field disconnect.cause'",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_flows_suite_fails_on_a_broken_target(
    name: str, pytester: pytest.Pytester, simulator: str, simulator_env: pytest.MonkeyPatch
) -> None:
    broken = BROKEN[name]
    with TamperingProxy(broken.tamper) as proxy:
        link = SinkLink(proxy)
        result = run_suite(
            pytester,
            "-m", "flows", "-k", broken.select, "--bw-target", simulator, "--bw-callback-base-url", proxy.url,
            plugins=[link],
        )  # fmt: skip
    output = output_of(result)
    assert link.linked, "the proxy never learnt where the sink listens"
    assert proxy.seen, f"no webhook went through the proxy:\n{output}"
    assert result.ret == 1, f"the flows suite passed a target with {name}:\n{output}"
    assert broken.rule in output, f"{name}: the failure does not name {broken.rule!r}:\n{output}"
    assert "expected" in output, output
    reproduce = f"reproduce: pytest --pyargs conformance.suites --bw-target {simulator} --bw-seed "
    assert reproduce in output, output
    assert f" -k {broken.select}" in output, output


def test_the_proxy_alone_breaks_nothing(
    pytester: pytest.Pytester, simulator: str, simulator_env: pytest.MonkeyPatch
) -> None:
    """The broken-target tests fail because of their tamper, not because of the proxy."""
    select = " or ".join(sorted({b.select for b in BROKEN.values()}))
    with TamperingProxy(Tamper("nothing", lambda exchange, forward: forward(exchange))) as proxy:
        result = run_suite(
            pytester, "-m", "flows", "-k", select, "--bw-target", simulator,
            "--bw-callback-base-url", proxy.url, plugins=[SinkLink(proxy)],
        )  # fmt: skip
    output = output_of(result)
    assert result.ret == 0, output
    assert result.parseoutcomes().get("passed") == len({b.select for b in BROKEN.values()}), output
    assert proxy.seen, output


#: Flows that need no far end and run in a few real seconds.
_REAL_TIME_FLOWS = (
    "outbound_answered or inbound_initiate or gather_hears or transfer or put_bxml or update_call"
    " or unanswered"
)


def test_flows_suite_on_a_target_without_the_control_api(
    pytester: pytest.Pytester, simulator_env: pytest.MonkeyPatch
) -> None:
    """The documented set-up for other targets: the loopback number's application sends initiate
    and status to ``{BW_CALLBACK_BASE_URL}/loopback/...``; far-end flows skip with a reason."""
    apps: list[Any] = []

    def wrap(app: Any) -> HideControlApi:
        apps.append(app)
        return HideControlApi(app)

    with (
        serve_simulator(wrap, time_scale=1.0) as base_url,
        TamperingProxy(Tamper("nothing", lambda exchange, forward: forward(exchange))) as proxy,
    ):
        application = (
            apps[0].state.runtime.store.accounts[SIMULATOR_ACCOUNT_ID].applications[SIMULATOR_APPLICATION_ID]
        )
        application.call_initiated_callback_url = f"{proxy.url}/{LOOPBACK_INITIATE_PATH}"
        application.call_status_callback_url = f"{proxy.url}/{LOOPBACK_STATUS_PATH}"
        assert httpx.get(f"{base_url}/_sim/accounts").status_code == 404
        result = run_suite(
            pytester, "-m", "flows", "-k", _REAL_TIME_FLOWS, "-rs", "--bw-target", base_url,
            "--bw-callback-base-url", proxy.url, plugins=[SinkLink(proxy)],
        )  # fmt: skip
    output = output_of(result)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 6, output
    assert outcomes.get("skipped") == 4, output  # three far-end calls, the busy transfer
    assert "needs the simulator's far ends" in output, output
    paths = {exchange.path for exchange in proxy.seen}
    assert f"/{LOOPBACK_INITIATE_PATH}" in paths, paths
    assert f"/{LOOPBACK_STATUS_PATH}" in paths, paths


def test_a_target_without_control_api_needs_a_loopback_number(
    pytester: pytest.Pytester, simulator_env: pytest.MonkeyPatch
) -> None:
    simulator_env.delenv("BW_LOOPBACK_NUMBER")
    with serve_simulator(HideControlApi) as base_url:
        result = run_suite(pytester, "-m", "flows", "-k", "outbound_answered", "--bw-target", base_url)
    output = output_of(result)
    assert result.ret == 1, output
    assert result.parseoutcomes().get("errors") == 1, output
    assert "set BW_LOOPBACK_NUMBER" in output, output
