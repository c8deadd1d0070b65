"""``--max-time``'s deadline: it strikes again when library code swallowed it, until pytest's session
is finishing, and not after (the reports are written in peace)."""

from __future__ import annotations

import threading
import time

import pytest

from conformance.running import DeadlineExceeded, _Deadline

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="SIGALRM needs the main thread"
)


def _stall(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)


def test_a_deadline_swallowed_once_strikes_again() -> None:
    deadline = _Deadline(0.2)
    swallowed = 0

    def a_test_on_a_stalled_target() -> None:
        nonlocal swallowed
        try:
            _stall(30)
        except DeadlineExceeded:  # as hypothesis does with what an explicit example raises
            swallowed += 1
        _stall(30)  # still waiting on the stalled target

    with deadline, pytest.raises(DeadlineExceeded):
        a_test_on_a_stalled_target()
    assert swallowed == 1
    assert deadline.fired


@pytest.mark.parametrize("hook", ["pytest_keyboard_interrupt", "pytest_sessionfinish"])
def test_once_pytest_handles_the_interrupt_the_deadline_is_quiet(hook: str) -> None:
    deadline = _Deadline(0.2)
    with deadline:
        try:
            _stall(30)
        except DeadlineExceeded:
            getattr(deadline, hook)()  # pytest reports the interrupt, then writes the reports
        _stall(2.5)  # longer than the repeat interval: no second strike
    assert deadline.fired


def test_an_interrupted_pytest_session_reports_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time

        def test_stalls():
            time.sleep(30)
        """
    )
    deadline = _Deadline(0.5)
    with deadline:
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", plugins=[deadline])
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert deadline.fired


def test_without_max_time_nothing_is_armed() -> None:
    deadline = _Deadline(None)
    with deadline:
        _stall(0.1)
    assert not deadline.fired
