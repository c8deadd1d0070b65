"""Fixtures of the report tests: one failing flow run shared by a module (see failing_run.py)."""

from tests.reports.failing_run import failed_run

__all__ = ["failed_run"]
