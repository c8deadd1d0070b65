"""Plain schemathesis (the ``st`` command, default checks and phases) over the contract finds nothing.

The OAuth2 token endpoint is on another host in the contract (``x-bw-token-endpoint``), so it is
left out of the run against the Voice API's base URL and gets a run of its own against the
simulator's root, authenticated with the built-in client credentials.

Two rules of the real API cannot be written in JSON Schema, so schema-valid data may still be
refused with 400: an ``applicationId`` must name an application of the account (createCall), and a
BXML body must be a valid BXML document (the two ``/bxml`` operations).  For those three
operations only, the configuration below adds 400 to the statuses ``positive_data_acceptance``
accepts; every other check and phase runs as shipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.resources import spec_path
from conformance.simulator import Simulator
from conformance.simulator.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from conformance.simulator.lifecycle import LifecycleEngine
from conformance.simulator.oauth import TOKEN_OPERATION

pytestmark = pytest.mark.slow

CONFIG = """
[[operations]]
include-operation-id = "{operation}"
checks.positive_data_acceptance.expected-statuses = [
  "2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx",
]
"""
SEMANTIC_400 = ("createCall", "updateCallBxml", "updateConferenceBxml")


def _st() -> str:
    candidate = Path(sys.executable).with_name("st")
    if not candidate.exists():
        pytest.skip("the schemathesis command line (st) is not installed next to this Python")
    return str(candidate)


def test_plain_schemathesis_finds_nothing(tmp_path: Path) -> None:
    try:
        spec = spec_path()
    except LookupError:
        pytest.skip("openapi/bandwidth-voice.yml is not written yet")
    config = tmp_path / "schemathesis.toml"
    config.write_text("".join(CONFIG.format(operation=op) for op in SEMANTIC_400), encoding="utf-8")
    examples = os.environ.get("BW_SIM_ST_EXAMPLES", "10")
    with Simulator(engine_factory=LifecycleEngine) as sim:
        command = [
            _st(),
            "--config-file",
            str(config),
            "run",
            str(spec),
            "--url",
            f"{sim.base_url}/api/v2",
            "--auth",
            "bw-user:bw-pass",
            "--max-examples",
            examples,
            "--seed",
            "20261121",
            "--no-color",
            "--exclude-operation-id",
            TOKEN_OPERATION,
        ]
        result = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
        )
        problems = [r for r in sim.store.requests if r.status >= 500]
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "No issues found" in output or "passed" in output, output[-3000:]
    assert problems == [], problems[:5]


def test_plain_schemathesis_on_the_token_endpoint(tmp_path: Path) -> None:
    try:
        spec = spec_path()
    except LookupError:
        pytest.skip("openapi/bandwidth-voice.yml is not written yet")
    if TOKEN_OPERATION not in spec.read_text(encoding="utf-8"):
        pytest.skip("the contract does not describe the token endpoint")
    examples = os.environ.get("BW_SIM_ST_EXAMPLES", "10")
    with Simulator(engine_factory=LifecycleEngine) as sim:
        sim.runtime.tokens.rate_limit = 10**6  # a fuzzer is not a client that should be slowed down
        command = [
            _st(),
            "run",
            str(spec),
            "--url",
            sim.base_url,
            "--auth",
            f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}",
            "--include-operation-id",
            TOKEN_OPERATION,
            "--phases",
            "examples,coverage,fuzzing",  # one operation, no links: nothing stateful to do
            "--max-examples",
            examples,
            "--seed",
            "20261121",
            "--no-color",
        ]
        result = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
        )
        problems = [r for r in sim.store.requests if r.status >= 500]
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert problems == [], problems[:5]
