"""Secrets never appear in anything a run writes, even when the run fails loudly.

A separately started ``serve`` knows accounts whose password and client secret are canaries; the run
tests it against a contract edited so that getStatistics and getCallState always fail (so every
failure prints a request, a response and a reproduce command), plus a flow whose webhooks cannot
arrive.  Stdout, stderr, the JUnit report and every file left in the working directory are searched.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.resources import spec_path
from tests.trust_helpers import run_command, serve

CANARY_PASSWORD = "canary-password-7f3e91"
CANARY_SECRET = "canary-client-secret-c04d"
ACCOUNT = "9900000"
APPLICATION = "11111111-1111-4111-8111-111111111111"


def _accounts_file(path: Path) -> Path:
    document = {
        "accounts": [
            {
                "id": ACCOUNT,
                "username": "canary-user",
                "password": CANARY_PASSWORD,
                "applications": [{"id": APPLICATION, "name": "canary"}],
                "numbers": [{"range": ["+19195550100", "+19195550120"], "applicationId": APPLICATION}],
            },
            {"id": "9900001", "username": "canary-other", "password": CANARY_PASSWORD + "-other"},
        ],
        "credentials": [
            {"clientId": "canary-client", "clientSecret": CANARY_SECRET, "accounts": [ACCOUNT]},
            {
                "clientId": "canary-other-client",
                "clientSecret": CANARY_SECRET + "-o",
                "accounts": ["9900001"],
            },
        ],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _broken_contract(path: Path) -> Path:
    """The contract with a field no target sends made required in getStatistics' answer."""
    contract: dict[str, Any] = yaml.safe_load(spec_path().read_text(encoding="utf-8"))
    schemas = contract["components"]["schemas"]
    for name in ("callState", "statistics", "accountStatistics"):
        if name in schemas and isinstance(schemas[name], dict):
            schema = schemas[name]
            schema.setdefault("properties", {})["canaryField"] = {"type": "string"}
            schema["required"] = [*schema.get("required", []), "canaryField"]
    path.write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")
    return path


def _everything_written(result: Any, workdir: Path) -> str:
    texts = [result.stdout, result.stderr]
    for file in workdir.rglob("*"):
        if file.is_file() and file.suffix not in {".json"}:  # the accounts file holds them on purpose
            texts.append(file.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)


@pytest.mark.parametrize("auth", ["oauth2", "basic"])
def test_canary_secrets_occur_nowhere_in_a_failing_run(tmp_path: Path, auth: str) -> None:
    accounts = _accounts_file(tmp_path / "accounts.json")
    contract = _broken_contract(tmp_path / "contract.yml")
    workdir = tmp_path / "work"
    workdir.mkdir()
    # hypothesis' caches (constants of this package's source, Unicode tables) are kept outside the
    # run's directory and checked for the canaries on their own: the source holds "eyJ" on purpose.
    cache = tmp_path / "cache"
    env = {"BW_ACCOUNT_ID": ACCOUNT, "XDG_CACHE_HOME": str(cache)}
    if auth == "oauth2":
        env |= {"BW_CLIENT_ID": "canary-client", "BW_CLIENT_SECRET": CANARY_SECRET}
        env |= {"BW_OTHER_CLIENT_ID": "canary-other-client", "BW_OTHER_CLIENT_SECRET": CANARY_SECRET + "-o"}
    else:
        env |= {"BW_USERNAME": "canary-user", "BW_PASSWORD": CANARY_PASSWORD}
        env |= {"BW_OTHER_ACCOUNT_ID": "9900001", "BW_USERNAME_FORBIDDEN": "canary-other"}
        env |= {"BW_PASSWORD_FORBIDDEN": CANARY_PASSWORD + "-other"}
    with serve("--accounts", str(accounts), cwd=tmp_path) as base_url:
        args = (
            "--target", base_url, "--auth", auth, "--spec", str(contract), "--max-examples", "3",
            "-k", "getStatistics or getCallState or test_completed_call_reads_disconnected",
            "--junitxml", str(workdir / "junit.xml"),
        )  # fmt: skip
        result = run_command(*args, cwd=workdir, env=env, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    written = _everything_written(result, workdir)
    assert "canaryField" in written, "the broken contract did not make the run fail"
    for canary in (CANARY_PASSWORD, CANARY_SECRET):
        assert canary not in written
    assert "eyJ" not in written  # no JWT access token (their header is base64 of '{"')
    files = [f for f in cache.rglob("*") if f.is_file()]
    cached = "\n".join(
        (gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()).decode("utf-8", "replace")
        for f in files
    )
    assert cached, "hypothesis kept nothing in the cache directory"
    for canary in (CANARY_PASSWORD, CANARY_SECRET):
        assert canary not in cached
