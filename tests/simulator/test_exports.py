"""The simulator's public surface stays what it is documented to be."""

from __future__ import annotations

import importlib

import pytest

import conformance.simulator as simulator_package

MODULES = [
    "api_errors", "app", "config", "control", "fastpath", "lifecycle", "oauth", "ops_calls",
    "ops_conferences", "ops_recordings", "ratelimit", "render", "runtime", "server", "store", "transport",
    "validation",
]  # fmt: skip


def test_package_exports() -> None:
    assert sorted(simulator_package.__all__) == [
        "Simulator",
        "SimulatorConfig",
        "create_app",
        "load_accounts",
    ]
    for name in simulator_package.__all__:
        assert getattr(simulator_package, name) is not None
    with pytest.raises(AttributeError):
        simulator_package.NoSuchThing  # noqa: B018


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_existing_names(name: str) -> None:
    module = importlib.import_module(f"conformance.simulator.{name}")
    assert module.__all__, name
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.{exported}"
