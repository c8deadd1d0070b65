"""Plain schemathesis over the contract finds nothing in the reference simulator.

This runs what a user types: the ``st`` command, the packaged contract and the ``schemathesis.toml``
shipped beside it, every default check and phase, against the embedded simulator with its built-in
Basic user.  The shipped configuration pins the simulator's account and application, leaves out
the OAuth2 token endpoint (another host), lets the two ``/bxml`` operations answer 400 to
schema-valid data (BXML validity is beyond JSON Schema) and keeps stateful scenarios on the
contract's links (openapi/NOTES.md, section 6).  A few fixed seeds with a small example budget keep
the run short; ``BW_PLAIN_ST_EXAMPLES`` raises the budget for a longer local run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from conformance.resources import data_dir, spec_path
from conformance.simulator import Simulator
from conformance.simulator.config import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_APPLICATION_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
)

CONFIG_NAME = "schemathesis.toml"
SEEDS = (1, 2)  # seed 1 found the BXML point, seed 2 also the applicationId one (NOTES.md §6)
MAX_EXAMPLES = os.environ.get("BW_PLAIN_ST_EXAMPLES", "3")
BXML_OPERATIONS = ["updateCallBxml", "updateConferenceBxml"]
# schemathesis' default statuses for positive_data_acceptance, plus 400
POSITIVE_WITH_400 = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]


def _st() -> str:
    candidate = Path(sys.executable).with_name("st")
    if not candidate.exists():
        pytest.skip("the schemathesis command line (st) is not installed next to this Python")
    return str(candidate)


def _config_path() -> Path:
    return data_dir("openapi") / CONFIG_NAME


def _config() -> dict[str, Any]:
    return tomllib.loads(_config_path().read_text(encoding="utf-8"))


def _run_st(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    command = [_st(), "--config-file", str(_config_path()), "run", str(spec_path()), *args, "--no-color"]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    return result, f"$ {' '.join(command)}\n{output[-8000:]}"


# --------------------------------------------------------------------------- the shipped file


def test_shipped_config_pins_the_simulators_account_and_application() -> None:
    assert _config()["parameters"] == {
        "path.accountId": DEFAULT_ACCOUNT_ID,
        "body.applicationId": DEFAULT_APPLICATION_ID,
    }


def test_shipped_config_relaxes_only_the_bxml_operations() -> None:
    config = _config()
    entries = config["operations"]
    assert {"include-tag": "OAuth", "enabled": False} in entries
    relaxed = [entry for entry in entries if "checks" in entry]
    assert relaxed == [
        {
            "include-operation-id": BXML_OPERATIONS,
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_WITH_400}},
        }
    ]
    assert len(entries) == 2
    # no check or phase is switched off for the whole run
    assert "checks" not in config
    assert config["phases"] == {"stateful": {"inference": {"algorithms": ["location-headers"]}}}


def test_shipped_config_leaves_out_exactly_the_token_endpoint() -> None:
    import schemathesis

    config = schemathesis.Config.from_path(str(_config_path()))
    schema = schemathesis.openapi.from_path(str(spec_path()), config=config)
    selected = schema.config.operations.filter_set_with(include=schema.filter_set)
    kept = {
        result.ok().definition.raw["operationId"]  # type: ignore[union-attr]
        for result in schema.clone(filter_set=selected).get_all_operations()
    }
    assert len(kept) == 28
    assert "createOAuth2Token" not in kept


# --------------------------------------------------------------------------- the runs


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_st_run_finds_nothing(seed: int, tmp_path: Path) -> None:
    with Simulator() as sim:
        result, shown = _run_st(
            [
                "--url",
                f"{sim.base_url}/api/v2",
                "--auth",
                f"{DEFAULT_USERNAME}:{DEFAULT_PASSWORD}",
                "--seed",
                str(seed),
                "--max-examples",
                MAX_EXAMPLES,
                "--generation-database",
                "none",
            ],
            tmp_path,
        )
        server_errors = [r for r in sim.store.requests if r.status >= 500]
    output = result.stdout + result.stderr
    assert result.returncode == 0, shown
    assert "28 selected / 29 total" in output, shown
    # warnings (operations that only ever answered 404 with so few examples) are fine; findings are not
    assert "Failures:" not in output, shown
    assert "Errors:" not in output, shown
    assert server_errors == [], server_errors[:5]


def test_token_endpoint_of_the_contract_matches_the_simulators(tmp_path: Path) -> None:
    """The token operation, selected alone against the simulator's token endpoint (same port)."""
    (tmp_path / CONFIG_NAME).write_text("", encoding="utf-8")
    with Simulator() as sim:
        command = [
            _st(),
            "--config-file",
            str(tmp_path / CONFIG_NAME),
            "run",
            str(spec_path()),
            "--url",
            sim.base_url,
            "--include-tag",
            "OAuth",
            "--auth",
            f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}",
            "--phases",
            "examples,coverage,fuzzing",
            "--seed",
            "1",
            "--max-examples",
            "20",
            "--generation-database",
            "none",
            "--no-color",
        ]
        result = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
        )
        token_requests = [r for r in sim.store.requests if r.path.endswith("/oauth2/token")]
    output = result.stdout + result.stderr
    shown = f"$ {' '.join(command)}\n{output[-8000:]}"
    assert result.returncode == 0, shown
    assert "1 selected / 29 total" in output, shown
    assert token_requests, "no request reached the token endpoint"
    assert any(r.status == 200 for r in token_requests), "no token was issued"
