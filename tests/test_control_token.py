"""The suite's side of a simulator whose control API needs a token (``serve --control-token``).

Without ``BW_SIM_CONTROL_TOKEN`` such a simulator answers ``/_sim/`` with 401; a run must then say
so (exit 2, naming the variable) instead of concluding there is no control API and failing flows.
With the token, discovery and the flows' loopback routing work as on an open simulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.errors import ConfigurationError
from conformance.settings import SIMULATOR_CLIENT_ID, SIMULATOR_CLIENT_SECRET, Settings
from conformance.simulator import Simulator
from conformance.target import open_target, probe
from tests.trust_helpers import run_command, serve

TOKEN = "control-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    with Simulator(control_token=TOKEN) as simulator:
        yield simulator.base_url


def test_probe_without_the_token_names_the_variable(guarded: str) -> None:
    with pytest.raises(ConfigurationError, match="BW_SIM_CONTROL_TOKEN") as caught:
        probe(guarded)
    assert caught.value.reason == "control-token"


def test_probe_with_a_wrong_token_says_it_is_wrong(guarded: str) -> None:
    with pytest.raises(ConfigurationError, match="not the token"):
        probe(guarded, headers={"Authorization": "Bearer not-the-token-at-all-000"})


def test_probe_with_the_token_finds_the_control_api(guarded: str) -> None:
    assert probe(guarded, headers={"Authorization": f"Bearer {TOKEN}"}) is True


def test_preflight_discovers_through_a_guarded_control_api(guarded: str) -> None:
    settings = Settings(
        target=guarded,
        account_id="9900000",
        client_id=SIMULATOR_CLIENT_ID,
        client_secret=SIMULATOR_CLIENT_SECRET,
        auth="oauth2",
        control_token=TOKEN,
    )
    with open_target(settings) as target:
        assert target.has_control_api
        assert target.settings.application_id
        assert target.settings.loopback_number
        assert target.control_headers == {"Authorization": f"Bearer {TOKEN}"}
    assert TOKEN not in repr(settings)
    assert TOKEN in settings.secrets()


_CREDENTIALS = {
    "BW_CLIENT_ID": SIMULATOR_CLIENT_ID,
    "BW_CLIENT_SECRET": SIMULATOR_CLIENT_SECRET,
    "BW_ACCOUNT_ID": "9900000",
}


def test_run_against_a_guarded_simulator(tmp_path: Path) -> None:
    """Exit 2 naming the variable without the token; a flow passes with it; the token never shows."""
    with serve("--control-token", TOKEN, cwd=tmp_path) as base_url:
        refused = run_command("--target", base_url, cwd=tmp_path, env=_CREDENTIALS)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "BW_SIM_CONTROL_TOKEN" in refused.stdout + refused.stderr

        env = {**_CREDENTIALS, "BW_SIM_CONTROL_TOKEN": TOKEN}
        passed = run_command(
            "--target", base_url, "-k", "test_outbound_answered_and_hung_up", cwd=tmp_path, env=env
        )
        output = passed.stdout + passed.stderr
        assert passed.returncode == 0, output
        assert "1 passed" in output
        assert TOKEN not in output
