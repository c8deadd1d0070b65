"""The shipped api suite: passes on the embedded simulator, fails naming the rule on broken targets.

The suite runs in-process with pytester (the plugin comes from the entry point).  Broken targets are
the simulator behind a middleware that breaks one rule (``broken_targets.py``); each run uses a
contract trimmed to the operations that exercise the rule, and a small example budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.settings import SIMULATOR_APPLICATION_ID, SIMULATOR_NUMBER
from tests.suites.broken_targets import BREAKAGES, Breakage, serve, trimmed_contract

pytest_plugins = ["pytester"]

_BUDGET = "2"


def _output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def test_api_suite_passes_on_the_embedded_simulator(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    result = pytester.runpytest(
        "--pyargs", "conformance.suites", "-m", "api", "--bw-max-examples", _BUDGET, "-p", "no:cacheprovider"
    )
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
        result = pytester.runpytest(
            "--pyargs",
            "conformance.suites",
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
            "-p",
            "no:cacheprovider",
        )
    output = _output(result)
    assert result.ret == 1, f"the suite passed a target with {breakage.name}:\n{output}"
    for text in breakage.expect:
        assert text in output, f"{breakage.name}: the failure does not name {text!r}:\n{output}"
    assert "Reproduce" in output, output
