"""How a run's outcomes are judged: a setup problem inside a test is the user's, never the target's."""

from __future__ import annotations

import pytest

from conformance.commands.run import _exit_code
from conformance.running import Outcomes, _Collector, operation_of

pytest_plugins = ["pytester"]

_TESTS = """
import pytest

from conformance.errors import ConfigurationError

pytestmark = pytest.mark.flows


@pytest.fixture
def loop():
    raise ConfigurationError("loopback flows need a caller number: set BW_NUMBER")


def test_needs_setup(loop):
    pass


def test_target_broke_a_rule():
    assert False, "missing gather"


def test_fine():
    pass
"""


def _run(pytester: pytest.Pytester, source: str) -> tuple[int, Outcomes]:
    pytester.makeini("[pytest]\nmarkers =\n    flows: flows\n")
    pytester.makepyfile(test_sample=source)
    outcomes = Outcomes()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", plugins=[_Collector(outcomes, ["x"])])
    return int(result.ret), outcomes


def test_a_configuration_error_inside_a_test_is_a_setup_error_not_a_failure(
    pytester: pytest.Pytester,
) -> None:
    code, outcomes = _run(pytester, _TESTS)
    assert outcomes.counts["flows"] == {"passed": 1, "failed": 1, "skipped": 0}
    assert len(outcomes.setup_errors) == 1
    assert "set BW_NUMBER" in outcomes.setup_errors[0]
    assert [failure.nodeid.split("::")[-1] for failure in outcomes.failures] == ["test_target_broke_a_rule"]
    assert _exit_code(code, outcomes) == 2  # the setup problem wins over the failure


def test_only_a_target_failure_exits_1(pytester: pytest.Pytester) -> None:
    source = _TESTS.replace("def test_needs_setup(loop):", "def test_needs_setup():")
    code, outcomes = _run(pytester, source)
    assert not outcomes.setup_errors
    assert _exit_code(code, outcomes) == 1


def test_deadline_and_operations() -> None:
    stopped = Outcomes(stopped="the run exceeded --max-time 5 s")
    assert _exit_code(0, stopped) == 2
    assert operation_of("conformance/suites/test_api.py::test_operation[createCall]") == "createCall"
    assert operation_of("conformance/suites/test_api.py::test_stateful_links") is None


def test_a_deadline_that_breaks_pytest_while_it_reports_is_still_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deadline can land where pytest then fails reporting it (seen: a TypeError formatting
    the interrupt's traceback); the run still ends as stopped by --max-time, never as a crash."""
    import time

    from conformance import running
    from conformance.settings import load_settings

    real_main = pytest.main

    def main_that_breaks(args: list[str], plugins: object = None) -> int:
        if "--collect-only" in args:
            return int(real_main(args, plugins=plugins))  # type: ignore[arg-type]
        try:
            time.sleep(30)
        except KeyboardInterrupt:
            raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'int'") from None
        return 0

    monkeypatch.setattr(running.pytest, "main", main_that_breaks)
    settings = load_settings({"max_time": 1.0}, environ={})
    code, outcomes = running.run_suites(settings, markexpr="bxml")
    assert outcomes.stopped is not None
    assert "--max-time 1 s" in outcomes.stopped
    assert _exit_code(code, outcomes) == 2
