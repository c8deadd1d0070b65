"""The HTML report in a real browser: it loads from disk without a console error and draws."""

from __future__ import annotations

from pathlib import Path

from tests.reports.browser import distinct_colours, load
from tests.reports.failing_run import FailedRun


def test_the_checks_see_a_console_error_and_a_blank_page(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>undefinedName()</script></body></html>")
    loaded = load(broken.as_uri(), width=400, height=300)
    assert loaded.console_errors
    assert distinct_colours(loaded.screenshot) < 8


def test_the_report_loads_from_disk_without_console_errors(failed_run: FailedRun, tmp_path: Path) -> None:
    loaded = load((failed_run.directory / "report.html").as_uri())
    assert loaded.console_errors == []
    (tmp_path / "report.png").write_bytes(loaded.screenshot)
    assert distinct_colours(loaded.screenshot) > 40  # text, lanes and coloured arrows, not a blank page
