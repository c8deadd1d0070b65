"""pytest plugin (entry point ``pytest11: bw_conformance``): options, fixtures and markers only."""

from __future__ import annotations

import pytest

MARKERS = {
    "api": "REST contract tests (schemathesis over openapi/)",
    "bxml": "BXML acceptance tests on a live call",
    "flows": "webhook flow tests over loopback calls",
    "sandbox_safe": "safe to run against a real Bandwidth account",
    "slow": "takes more than a few seconds",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
