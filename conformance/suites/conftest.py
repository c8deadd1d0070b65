"""Fixtures shared by the shipped suites (the plugin provides ``bw_settings``, ``bw_target``,
``bw_client``, ``bw_sink`` and ``bw_webhooks``).

Every fixture here is documented; suites beside ``test_api`` may append their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx
    from schemathesis.schemas import BaseSchema

    from conformance.api import ApiRunner, SecondAccount
    from conformance.settings import Settings
    from conformance.suites.loopback import Loopback
    from conformance.target import Target
    from conformance.webhooks import SinkScope


@pytest.fixture(autouse=True)
def _bw_profile_guard(request: pytest.FixtureRequest, bw_settings: Settings) -> None:
    """With ``--bw-profile sandbox`` only tests marked ``sandbox_safe`` run; the rest are skipped."""
    if bw_settings.profile == "sandbox" and request.node.get_closest_marker("sandbox_safe") is None:
        pytest.skip("not sandbox_safe: skipped with the sandbox profile")


@pytest.fixture(scope="session")
def bw_second_account(bw_target: Target) -> SecondAccount:
    """Credentials of another account for cross-account checks, or the reason there are none."""
    from conformance.api import find_second_account

    return find_second_account(
        bw_target.settings, base_url=bw_target.base_url, has_control_api=bw_target.has_control_api
    )


@pytest.fixture(scope="session")
def bw_api_schema(bw_target: Target, bw_second_account: SecondAccount) -> BaseSchema:
    """The contract as a schemathesis schema aimed at the target, with the Bandwidth checks on."""
    from conformance.api import load_api_schema
    from conformance.api.hooks import local_callback_base

    # A simulator on this machine would call the made-up hosts in generated callback URLs: point
    # them at a closed local port instead, so no traffic leaves the machine.
    local = local_callback_base(bw_target.base_url) if bw_target.has_control_api else None
    return load_api_schema(
        bw_target.settings,
        base_url=bw_target.base_url,
        second_account=bw_second_account.credentials,
        callback_base_url=local,
    )


@pytest.fixture(scope="session")
def bw_api_runner(bw_settings: Settings) -> Iterator[ApiRunner]:
    """Sends cases paced and budgeted for the profile, waiting out 429 ``Retry-After``."""
    from conformance.api import ApiRunner, pacer_for

    runner = ApiRunner(pacer_for(bw_settings))
    yield runner
    runner.close()


@pytest.fixture(autouse=True)
def _bw_schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """Compatibility: schemathesis 4.32 lazy schemas read ``node._nodeid``, which pytest 9.2 dropped."""
    node = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid


def _skip_when_spent(exc: Exception) -> None:
    pytest.skip(str(exc))


@pytest.fixture
def bw_loopback(
    bw_target: Target,
    bw_settings: Settings,
    bw_webhooks: SinkScope,
    bw_client: httpx.Client,
    bw_api_runner: ApiRunner,
    request: pytest.FixtureRequest,
) -> Iterator[Loopback]:
    """This test's loopback harness (:mod:`conformance.suites.loopback`); hangs up what is left.

    Calls are paced and counted with the api suite's pacer; a spent call budget skips the test.
    """
    from conformance.suites.loopback import Loopback

    with Loopback(
        bw_target,
        bw_webhooks,
        bw_client,
        test_name=request.node.name,
        user_target=bw_settings.target,
        pacer=bw_api_runner.pacer,
        on_budget_spent=_skip_when_spent,
    ) as loop:
        yield loop
