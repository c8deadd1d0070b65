"""Schemathesis wiring for the Voice API contract: schema loading, auth, Bandwidth checks, pacing.

``load_api_schema(settings, base_url=...)`` gives a schemathesis schema with every phase and every
default check enabled plus the Bandwidth checks (:mod:`conformance.api.checks`); ``ApiRunner`` sends
cases paced and budgeted as the profile requires; ``stateful_machine`` builds the link-driven state
machine.  Nothing here depends on pytest.
"""

from __future__ import annotations

from conformance.api.accounts import Credentials, SecondAccount, find_second_account, primary_credentials
from conformance.api.checks import CHECK_NAMES
from conformance.api.pacing import CallBudgetExhaustedError, CallPacer, parse_retry_after
from conformance.api.runner import ApiRunner, operation_test, pacer_for, stateful_machine, stateful_settings
from conformance.api.schema import api_config, load_api_schema, resolve_spec

__all__ = [
    "CHECK_NAMES",
    "ApiRunner",
    "CallBudgetExhaustedError",
    "CallPacer",
    "Credentials",
    "SecondAccount",
    "api_config",
    "find_second_account",
    "load_api_schema",
    "operation_test",
    "pacer_for",
    "parse_retry_after",
    "primary_credentials",
    "resolve_spec",
    "stateful_machine",
    "stateful_settings",
]
