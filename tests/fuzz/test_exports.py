"""The public surface of ``conformance.fuzz`` is what ``__all__`` says, and nothing is missing."""

from __future__ import annotations

import importlib

import pytest

import conformance.fuzz as fuzz

MODULES = [
    "checks",
    "fields",
    "fixture",
    "report",
    "runner",
    "scenarios",
    "schema",
    "strategies",
    "targets",
    "values",
]


def test_package_exports() -> None:
    expected = """CHECKS SCENARIOS BxmlProblem EventStats Exchange Finding FuzzReport FuzzSettings Fuzzer
        Problem Progress Scenario Target check_exchange curl_command fuzz_app payloads sequences"""
    assert sorted(fuzz.__all__) == sorted(expected.split())
    for name in fuzz.__all__:
        assert getattr(fuzz, name) is not None


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_its_exports(name: str) -> None:
    module = importlib.import_module(f"conformance.fuzz.{name}")
    assert module.__all__
    for exported in module.__all__:
        assert hasattr(module, exported), exported


def test_the_command_is_a_click_command() -> None:
    import click

    from conformance.commands.fuzz_app import command

    assert isinstance(command, click.Command)
    assert command.name == "fuzz-app"
    assert {p.name for p in command.params} == {
        "url", "route", "events", "max_examples", "seed", "callback_timeout", "method", "username", "password"
    }  # fmt: skip
