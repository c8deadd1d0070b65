"""Kept for imports written before the reports package: see :mod:`conformance.reports.junit`."""

from conformance.reports.junit import finish_junit

__all__ = ["finish_junit"]
