"""Fixtures shared by the shipped suites (the plugin provides ``bw_settings``, ``bw_target``,
``bw_client``, ``bw_sink`` and ``bw_webhooks``).

Every fixture here is documented; suites beside ``test_api`` may append their own.

* ``test_operation`` of the api suite becomes one item per operation of the contract
  (``test_operation[createCall]``), listed from the contract at collection time by
  :func:`pytest_generate_tests`; ``-k 'test_operation[createCall]'`` selects exactly one.
* ``bw_seed`` is the run's seed: every hypothesis-driven test of the suites draws from it, so a run is
  repeated with ``--bw-seed N``.
* Hypothesis keeps its caches out of the current directory (no ``.hypothesis/`` folder there): in the
  user's cache directory, where the next run finds them, and the suites use no example database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx
    from schemathesis.schemas import BaseSchema

    from conformance.api import ApiRunner, SecondAccount
    from conformance.api.operations import OperationRef
    from conformance.settings import Settings
    from conformance.suites.loopback import Loopback
    from conformance.target import Target
    from conformance.webhooks import SinkScope

# The parameter of tests that run once per operation of the contract (``test_operation``).
OPERATION_PARAMETER = "bw_operation"
_HYPOTHESIS_HOME_KEY = pytest.StashKey[ExitStack]()


# ------------------------------------------------------------------------------- hypothesis
def pytest_configure(config: pytest.Config) -> None:
    """Keep hypothesis' caches (constants, unicode tables) out of the current directory, in the
    user's cache directory (see :mod:`conformance.hypothesis_cache`) until the session ends."""
    from conformance.hypothesis_cache import hypothesis_home

    stack = ExitStack()
    stack.enter_context(hypothesis_home())
    config.stash[_HYPOTHESIS_HOME_KEY] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_HYPOTHESIS_HOME_KEY, None)
    if stack is not None:
        stack.close()


# ------------------------------------------------------------------------- one item per operation
class _ContractUnavailable:
    """The single parameter of ``test_operation`` when the contract cannot be read at collection."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _settings_of(config: pytest.Config) -> Settings:
    """The run's settings as the plugin's ``bw_settings`` builds them (every ``--bw-*`` option)."""
    from conformance.plugin import settings_from_config

    return settings_from_config(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``test_operation`` runs once per Voice operation of the contract, its id the operationId."""
    if OPERATION_PARAMETER not in metafunc.fixturenames:
        return
    from conformance.api.schema import contract_operations
    from conformance.errors import ConformanceError

    try:
        refs: list[Any] = contract_operations(_settings_of(metafunc.config).spec)
    except ConformanceError as exc:
        # Reported by the test itself, like every setup problem of the suite.
        metafunc.parametrize(OPERATION_PARAMETER, [_ContractUnavailable(exc)], ids=["contract"])
        return
    if not refs:
        refs = [_ContractUnavailable(LookupError("the contract has no Voice API operation"))]
        metafunc.parametrize(OPERATION_PARAMETER, refs, ids=["contract"])
        return
    metafunc.parametrize(OPERATION_PARAMETER, refs, ids=[ref.test_id for ref in refs])


def operation_of(value: OperationRef | _ContractUnavailable) -> OperationRef:
    """The operation a ``bw_operation`` parameter names (raises when the contract was unreadable)."""
    if isinstance(value, _ContractUnavailable):
        raise value.error
    return value


# ------------------------------------------------------------------------------------- seed
@pytest.fixture(scope="session")
def bw_seed(bw_settings: Settings) -> int:
    """The run's seed: ``--bw-seed`` or pyproject's, else the one the plugin chose for the run (the
    same in every xdist worker, printed at the end).

    Every hypothesis-driven test of the api suite draws from it (schemathesis' phases, the stateful
    machine and its rule order), so the same seed against the same target sends the same cases.
    """
    assert bw_settings.seed is not None  # the plugin always fills it in
    return bw_settings.seed


# ------------------------------------------------------------------------------ guards and api
@pytest.fixture(autouse=True)
def _bw_profile_guard(request: pytest.FixtureRequest, bw_settings: Settings) -> None:
    """With ``--bw-profile sandbox`` only tests marked ``sandbox_safe`` run; the rest are skipped."""
    if bw_settings.profile == "sandbox" and request.node.get_closest_marker("sandbox_safe") is None:
        pytest.skip("not sandbox_safe: skipped with the sandbox profile")


@pytest.fixture(scope="session")
def bw_second_account(bw_target: Target) -> SecondAccount:
    """Credentials of another account for cross-account checks (in the run's auth mode), or the
    reason there are none."""
    from conformance.api import find_second_account

    return find_second_account(
        bw_target.settings, base_url=bw_target.base_url, has_control_api=bw_target.has_control_api
    )


def _refuses_basic(target: Target) -> bool:
    """The target is known to accept OAuth2 only: ``Settings.basic_refused``, or a simulator whose
    ``/health`` says ``auth oauth2``."""
    return bool(getattr(target.settings, "basic_refused", False)) or target.server.endswith("(auth oauth2)")


@pytest.fixture(scope="session")
def bw_api_schema(bw_target: Target, bw_second_account: SecondAccount, bw_seed: int) -> BaseSchema:
    """The contract as a schemathesis schema aimed at the target, with the Bandwidth checks on, every
    request authenticated by the run's authenticator, and the run's seed."""
    from conformance.api import load_api_schema
    from conformance.api.hooks import local_callback_base

    # A simulator on this machine would call the made-up hosts in generated callback URLs: point
    # them at a closed local port instead, so no traffic leaves the machine.
    local = local_callback_base(bw_target.base_url) if bw_target.has_control_api else None
    return load_api_schema(
        bw_target.settings,
        base_url=bw_target.base_url,
        second_account=bw_second_account.credentials,
        seed=bw_seed,
        callback_base_url=local,
        authenticator=bw_target.authenticator,
        basic_refused=_refuses_basic(bw_target),
    )


@pytest.fixture(scope="session")
def bw_api_runner(bw_settings: Settings, bw_target: Target) -> Iterator[ApiRunner]:
    """Sends cases paced and budgeted for the profile, waiting out 429 ``Retry-After`` and renewing an
    expired token once; failure reports reproduce with the run's credentials as variables."""
    from conformance.api import ApiRunner, pacer_for
    from conformance.api.report import curl_auth_for

    runner = ApiRunner(
        pacer_for(bw_settings),
        authenticator=bw_target.authenticator,
        curl_auth=curl_auth_for(bw_target.settings),
    )
    yield runner
    runner.close()


def _skip_when_spent(exc: Exception) -> None:
    pytest.skip(str(exc))


@pytest.fixture
def bw_loopback(
    bw_target: Target,
    bw_settings: Settings,
    bw_webhooks: SinkScope,
    bw_client: httpx.Client,
    bw_api_runner: ApiRunner,
    bw_reproduce_prefix: list[str],
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
        reproduce_prefix=bw_reproduce_prefix,
        pacer=bw_api_runner.pacer,
        on_budget_spent=_skip_when_spent,
    ) as loop:
        yield loop
