"""The api suite's items and seeds: one pytest item per operation, exact ``-k`` selection, items spread
over xdist workers with one JUnit testcase each, the same cases for the same seed, no ``.hypothesis/``.

Runs go through pytester (the plugin comes from the entry point), like ``test_api_suite.py``.
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conformance.api.operations import voice_operations
from conformance.resources import load_spec
from conformance.settings import SIMULATOR_APPLICATION_ID, SIMULATOR_NUMBER
from conformance.simulator import Simulator
from tests.suites.broken_targets import BREAKAGES, serve, trimmed_contract

pytest_plugins = ["pytester"]

_BUDGET = "2"
_SUITE = ("--pyargs", "conformance.suites.test_api", "-m", "api")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # --assert=plain: see test_api_suite._run_suite.
    return pytester.runpytest(*args, "-p", "no:cacheprovider", "--assert=plain")


def _output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def _collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = _run(pytester, *_SUITE, "--collect-only", "-q", *args)
    assert result.ret in (0, 5), _output(result)
    return [line.split("::", 1)[1] for line in result.outlines if "::" in line]


def _use_simulator_account(env: pytest.MonkeyPatch, *, oauth2: bool = True) -> None:
    env.setenv("BW_ACCOUNT_ID", "9900000")
    env.setenv("BW_VOICE_APPLICATION_ID", SIMULATOR_APPLICATION_ID)
    env.setenv("BW_NUMBER", SIMULATOR_NUMBER)
    if oauth2:
        env.setenv("BW_CLIENT_ID", "bw-client")
        env.setenv("BW_CLIENT_SECRET", "bw-client-secret")
    else:
        env.setenv("BW_USERNAME", "bw-user")
        env.setenv("BW_PASSWORD", "bw-pass")


# ------------------------------------------------------------------------------------- items
def test_one_item_per_voice_operation_named_by_operation_id(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch
) -> None:
    names = _collected(pytester)
    operations = [name for name in names if name.startswith("test_operation")]
    contract = load_spec()
    expected = [f"test_operation[{ref.test_id}]" for ref in voice_operations(contract)]
    assert operations == expected
    assert len(operations) == 28
    assert "test_operation[createCall]" in operations
    # The OAuth2 token endpoint belongs to the identity service, not to the Voice API.
    assert not any("OAuth2" in name or "oauth2" in name for name in names)
    assert "test_stateful_links" in names


@pytest.mark.parametrize(
    ("operation", "not_selected"),
    [
        ("updateCall", ("updateCallBxml", "updateCallRecordingState")),
        ("getConference", ("getConferenceMember", "getConferenceRecording")),
        ("deleteRecording", ("deleteRecordingMedia", "deleteRecordingTranscription")),
    ],
)
def test_k_with_the_item_name_selects_exactly_one_operation(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, operation: str, not_selected: tuple[str, ...]
) -> None:
    # Each of these operationIds is a prefix of others: the bracketed name is not.
    all_names = _collected(pytester)
    assert all(f"test_operation[{other}]" in all_names for other in not_selected)
    assert _collected(pytester, "-k", f"test_operation[{operation}]") == [f"test_operation[{operation}]"]


def test_operations_without_an_id_are_named_by_method_and_path(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    contract = copy.deepcopy(load_spec())  # the cached parse is shared: never edit it
    paths = {p: item for p, item in contract["paths"].items() if p.endswith(("/statistics", "/conferences"))}
    for item in paths.values():
        for definition in item.values():
            if isinstance(definition, dict):
                definition.pop("operationId", None)
    document = {**contract, "paths": paths}
    spec = tmp_path / "no-ids.yml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    names = _collected(pytester, "--bw-spec", str(spec), "-k", "test_operation")
    assert names == [
        "test_operation[GET:/accounts/accountId/conferences]",
        "test_operation[GET:/accounts/accountId/statistics]",
    ]
    assert _collected(
        pytester, "--bw-spec", str(spec), "-k", "test_operation[GET:/accounts/accountId/statistics]"
    ) == ["test_operation[GET:/accounts/accountId/statistics]"]


def test_an_unreadable_contract_is_one_failing_item(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.yml"
    names = _collected(pytester, "--bw-spec", str(missing), "-k", "test_operation")
    assert names == ["test_operation[contract]"]


def _junit_cases(path: Path) -> list[ET.Element]:
    return list(ET.parse(path).getroot().iter("testcase"))


def test_operations_spread_over_workers_with_one_junit_testcase_each(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    operations = ("getStatistics", "listConferences", "listCalls", "listAccountCallRecordings")
    contract = trimmed_contract(tmp_path, operations)
    junit = tmp_path / "junit.xml"
    result = _run(
        pytester,
        *_SUITE,
        "-k",
        "test_operation",
        "--bw-spec",
        str(contract),
        "--bw-max-examples",
        _BUDGET,
        "-n",
        "2",
        "-v",
        f"--junitxml={junit}",
    )
    output = _output(result)
    assert result.ret == 0, output
    cases = _junit_cases(junit)
    names = sorted(case.get("name", "") for case in cases)
    assert len(names) == result.parseoutcomes()["passed"], output
    assert names == sorted(
        f"test_operation[{ref.test_id}]"
        for ref in voice_operations(yaml.safe_load(contract.read_text(encoding="utf-8")))
    )
    workers = set(re.findall(r"\[(gw\d+)\] .*PASSED", output))
    assert workers == {"gw0", "gw1"}, output
    # No seed given: one was chosen, and hypothesis left nothing in the current directory.
    assert not (pytester.path / ".hypothesis").exists()


def test_each_failing_operation_is_its_own_junit_testcase(
    pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "ids-wrong-format")
    contract = trimmed_contract(tmp_path, ("createCall", "getCallState", "getStatistics"))
    junit = tmp_path / "junit.xml"
    _use_simulator_account(clean_env, oauth2=False)
    with serve(breakage) as base_url:
        result = _run(
            pytester,
            *_SUITE,
            "-k",
            "test_operation",
            "--bw-target",
            base_url,
            "--bw-spec",
            str(contract),
            "--bw-max-examples",
            _BUDGET,
            f"--junitxml={junit}",
        )
    output = _output(result)
    assert result.ret == 1, output
    outcomes: dict[str, str | None] = {}
    for case in _junit_cases(junit):
        failure = case.find("failure")
        text = None if failure is None else f"{failure.get('message')}\n{failure.text}"
        outcomes[case.get("name", "")] = text
    # The trimmed contract keeps every method of the paths: createCall, listCalls, getCallState,
    # updateCall and getStatistics, each its own testcase.
    assert len(outcomes) == 5, outcomes
    assert outcomes["test_operation[getStatistics]"] is None
    create = outcomes["test_operation[createCall]"]
    listed = outcomes["test_operation[listCalls]"]
    assert create is not None
    assert listed is not None
    assert "bw_id_formats" in create
    assert "POST /accounts/{accountId}/calls (createCall)" in create
    assert "(listCalls)" not in create  # another operation's failure is reported in its own testcase
    assert "GET /accounts/{accountId}/calls (listCalls)" in listed
    assert "(createCall)" not in listed


# ------------------------------------------------------------------------------------- seeds
_ID = re.compile(r"\b(c|conf|r|t|m)-[0-9a-f][0-9a-f-]{19,}")


def _normalised(log: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(method, path, status) of each Voice request, the ids the target made up numbered in order."""
    names: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"{match.group(1)}-#{len(names)}")

    return [
        (entry["method"], _ID.sub(name, entry["path"]), entry["status"])
        for entry in log
        if not entry["path"].startswith("/_sim/")
    ]


@pytest.fixture
def fresh_target(clean_env: pytest.MonkeyPatch) -> Any:
    """A function starting a fresh simulator, running the suite against it and returning its log."""

    def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[tuple[str, str, int]]]:
        with Simulator() as simulator:
            result = _run(pytester, *_SUITE, "--bw-target", simulator.base_url, *args)
            log = httpx.get(f"{simulator.base_url}/_sim/requests", params={"limit": 100000}).json()
        return result, _normalised(log["requests"])

    _use_simulator_account(clean_env)
    return run


def test_the_same_seed_sends_the_same_cases(pytester: pytest.Pytester, fresh_target: Any) -> None:
    """Every hypothesis-driven test of the suite (each operation's phases and the stateful machine)."""
    args = ("-k", "test_operation or test_stateful_links", "--bw-max-examples", _BUDGET)
    first, sent = fresh_target(pytester, *args, "--bw-seed", "1234")
    second, again = fresh_target(pytester, *args, "--bw-seed", "1234")
    other, different = fresh_target(pytester, *args, "--bw-seed", "4321")
    for result in (first, second, other):
        assert result.ret == 0, _output(result)
    assert len(sent) > 100
    assert sent == again
    assert sent != different
    assert not (pytester.path / ".hypothesis").exists()
    assert "--bw-seed" not in _output(first)  # a given seed is not announced as chosen


def test_a_chosen_seed_is_printed_and_repeats_the_run(pytester: pytest.Pytester, fresh_target: Any) -> None:
    selected = "test_operation[listConferences] or test_operation[getStatistics]"
    args = ("-k", selected, "--bw-max-examples", "3")
    result, sent = fresh_target(pytester, *args)
    assert result.ret == 0, _output(result)
    found = re.search(r"bw-conformance: seed (\d+) \(repeat with --bw-seed \1\)", _output(result))
    assert found is not None, _output(result)
    repeated, again = fresh_target(pytester, *args, "--bw-seed", found.group(1))
    assert repeated.ret == 0, _output(repeated)
    assert sent == again
    assert not (pytester.path / ".hypothesis").exists()
