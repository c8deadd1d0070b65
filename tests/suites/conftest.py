"""Fixtures for testing the shipped suites with pytester."""

from __future__ import annotations

import pytest

from conformance.settings import ENVIRONMENT


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``BW_*`` variables from the outer environment leak into an inner run."""
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch
