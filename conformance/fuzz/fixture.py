"""The pytest side of the fuzzer: an :class:`AppFuzzer` an app's own test suite calls.

``conformance.plugin`` wires it as a fixture::

    @pytest.fixture
    def bw_fuzz_app(request: pytest.FixtureRequest) -> AppFuzzer:
        return fuzz_app_fixture(request)

and a test then reads ``bw_fuzz_app.assert_clean(my_asgi_app)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.fuzz.report import FuzzReport
from conformance.fuzz.runner import fuzz_app


class AppFuzzer:
    """Runs :func:`conformance.fuzz.fuzz_app` with per-session defaults (``max_examples``, ...)."""

    def __init__(self, **defaults: Any) -> None:
        self.defaults = defaults
        self.reports: list[FuzzReport] = []

    def __call__(self, target: str | Callable[..., Any], **options: Any) -> FuzzReport:
        """Fuzz ``target`` and return the report (keyword options as for ``fuzz_app``)."""
        report = fuzz_app(target, **{**self.defaults, **options})
        self.reports.append(report)
        return report

    def assert_clean(self, target: str | Callable[..., Any], **options: Any) -> FuzzReport:
        """Fuzz ``target`` and fail the test with every finding and its curl command if any."""
        report = self(target, **options)
        if not report.ok:
            pytest.fail(report.format_text(), pytrace=False)
        return report


def fuzz_app_fixture(request: pytest.FixtureRequest) -> AppFuzzer:
    """Body of the ``bw_fuzz_app`` fixture: honours ``--bw-max-examples`` when given."""
    defaults: dict[str, Any] = {}
    max_examples = request.config.getoption("bw_max_examples", default=None)
    if isinstance(max_examples, int):
        defaults["max_examples"] = max_examples
    return AppFuzzer(**defaults)


__all__ = ["AppFuzzer", "fuzz_app_fixture"]
