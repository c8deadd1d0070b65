"""`bw-conformance run` end to end, as a user runs it (a subprocess)."""

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "bw-conformance"


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "run", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        check=False,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_passing_flow_exits_0_with_a_table_by_area(tmp_path: Path) -> None:
    result = _run("-m", "flows", "-k", "test_outbound_answered_and_hung_up", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Conformance by area" in result.stdout
    assert "flows" in result.stdout


def test_failures_exit_1_and_name_the_rule_with_a_reproduce_command(tmp_path: Path) -> None:
    # The target sends its webhooks to a port where nothing listens: the flow cannot pass.
    dead = f"http://127.0.0.1:{_closed_port()}"
    result = _run(
        "-m", "flows", "-k", "test_outbound_answered_and_hung_up", "--callback-base-url", dead, cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout
    assert re.search(
        r"reproduce: bw-conformance run --seed \d+ -k test_outbound_answered_and_hung_up", result.stdout
    )


def test_unreachable_target_exits_2(tmp_path: Path) -> None:
    env = {"BW_USERNAME": "u", "BW_PASSWORD": "p", "BW_ACCOUNT_ID": "1", "PATH": ""}
    result = _run("--target", f"http://127.0.0.1:{_closed_port()}", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "unreachable" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--profile", "sandbox"),  # sandbox needs a target
        ("--target", "ftp://example.invalid"),
        ("--workers", "0"),
    ],
)
def test_configuration_and_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _run(*args, cwd=tmp_path, env={"PATH": ""})
    assert result.returncode == 2, result.stdout + result.stderr


def test_junit_xml_is_written(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    result = _run(
        "-m", "flows", "-k", "test_outbound_answered_and_hung_up", "--junitxml", str(report), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<testsuite" in report.read_text(encoding="utf-8")


def test_workers_still_count_by_area(tmp_path: Path) -> None:
    result = _run(
        "--workers", "2", "-m", "flows", "-k", "test_outbound_answered_and_hung_up or test_redirect_verb",
        "--report", "ndjson,har", "--report-dir", str(tmp_path / "reports"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    flows_row = next(line for line in result.stdout.splitlines() if "flows" in line and "│" in line)
    assert [cell.strip() for cell in flows_row.split("│")[1:-1]][1] != "0"
    # Each worker recorded its own tests' exchanges; the reports hold both, each under its test.
    events = [json.loads(line) for line in (tmp_path / "reports" / "events.ndjson").read_text().splitlines()]
    ended = {e["test"]: e["outcome"] for e in events if e["event"] == "test_end"}
    assert len(ended) == 2
    assert set(ended.values()) == {"passed"}
    webhooks = [e for e in events if e["event"] == "webhook"]
    assert {e["id"].split(".")[0] for e in webhooks} <= {"gw0", "gw1"}  # recorded in the workers
    assert {e["test"] for e in webhooks} == set(ended)
    har = json.loads((tmp_path / "reports" / "exchanges.har").read_text())
    assert len(har["log"]["entries"]) == sum(1 for e in events if e["event"] in ("request", "webhook"))


@pytest.mark.parametrize("lines", [1, 5])
def test_a_closed_output_stops_the_run_with_2_not_1(tmp_path: Path, lines: int) -> None:
    """`bw-conformance run | head`: the reader goes away; that is not the target breaking the
    contract (exit 1), and the simulator the run started goes with it."""
    selection = "test_operation[getStatistics] or test_outbound_answered_and_hung_up or test_valid_bxml"
    argv = [str(BIN), "run", "-k", selection, "--max-examples", "2", "--seed", "1"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    with subprocess.Popen(argv, text=True, cwd=tmp_path, **pipes) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        for _ in range(lines):
            assert process.stdout.readline()
        process.stdout.close()
        said = process.stderr.read()
        code = process.wait(timeout=600)
    assert code == 2, said
    assert "the output was closed (broken pipe)" in said
    assert "Traceback" not in said
