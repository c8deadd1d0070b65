"""Fuzz a voice app's BXML handlers: generated webhooks in, every reply checked (issue 6).

``fuzz_app(target, ...)`` runs the checks against a URL or an in-process ASGI/WSGI app and returns a
:class:`FuzzReport`; ``payloads(event)`` and ``sequences(scenario, catalogue)`` are the hypothesis
strategies it uses, available for an app's own property tests.
"""

from __future__ import annotations

from conformance.fuzz.checks import CHECKS, BxmlProblem, Problem, check_exchange
from conformance.fuzz.report import EventStats, Finding, FuzzReport
from conformance.fuzz.runner import Fuzzer, FuzzSettings, Progress, fuzz_app
from conformance.fuzz.scenarios import SCENARIOS, Scenario, sequences
from conformance.fuzz.strategies import payloads
from conformance.fuzz.targets import Exchange, Target, curl_command

__all__ = [
    "CHECKS",
    "SCENARIOS",
    "BxmlProblem",
    "EventStats",
    "Exchange",
    "Finding",
    "FuzzReport",
    "FuzzSettings",
    "Fuzzer",
    "Problem",
    "Progress",
    "Scenario",
    "Target",
    "check_exchange",
    "curl_command",
    "fuzz_app",
    "payloads",
    "sequences",
]
