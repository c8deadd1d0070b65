"""Verdicts that mean what they say on any target: ``bw-conformance run`` as a user runs it.

Every test runs the command in a subprocess, with stdout not a terminal (as in CI), against a
separately started ``bw-conformance serve`` or a deliberately bad target.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.trust_helpers import run_command, serve, stalling_target

FLOW = "test_outbound_answered_and_hung_up"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> str:
    with serve(cwd=tmp_path_factory.mktemp("serve")) as base_url:
        yield base_url  # type: ignore[misc]


def _oauth_env(**extra: str) -> dict[str, str]:
    return {
        "BW_CLIENT_ID": "bw-client",
        "BW_CLIENT_SECRET": "bw-client-secret",
        "BW_ACCOUNT_ID": "9900000",
        **extra,
    }


def test_wrong_password_is_a_setup_error_naming_who_and_where(served: str, tmp_path: Path) -> None:
    env = {"BW_USERNAME": "bw-user", "BW_PASSWORD": "not-it", "BW_ACCOUNT_ID": "9900000"}
    result = run_command("--target", served, "-k", "test_operation", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"authentication failed for user bw-user on account 9900000 at {served}: 401" in result.stderr
    assert "not-it" not in result.stdout + result.stderr


def test_wrong_client_secret_is_a_setup_error(served: str, tmp_path: Path) -> None:
    env = _oauth_env(BW_CLIENT_SECRET="wrong-secret-123")
    result = run_command("--target", served, "-m", "flows", "-k", FLOW, cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "authentication failed for client id bw-client" in result.stderr
    assert "invalid_client" in result.stderr
    assert "wrong-secret-123" not in result.stdout + result.stderr


def test_token_endpoint_answering_html_is_a_setup_error(served: str, tmp_path: Path) -> None:
    # The simulator's /health page is JSON, not a token; an unknown path answers a voiceApiError.
    env = _oauth_env(BW_TOKEN_URL=f"{served}/no-such-token-endpoint")
    result = run_command("--target", served, "-m", "flows", "-k", FLOW, cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "token endpoint" in result.stderr


def test_readme_example_with_only_client_credentials_and_account_passes(served: str, tmp_path: Path) -> None:
    """Application, caller and loopback numbers come from the simulator's control API."""
    result = run_command("--target", served, "-m", "flows", "-k", FLOW, cwd=tmp_path, env=_oauth_env())
    assert result.returncode == 0, result.stdout + result.stderr
    head = result.stdout.splitlines()[:5]
    assert any(served in line and "embedded" not in line for line in head), head
    assert any("auth oauth2 as client id bw-client" in line for line in head), head
    assert any(re.search(r"seed \d+", line) for line in head), head


def test_a_run_without_a_target_says_it_tests_the_embedded_simulator(tmp_path: Path) -> None:
    result = run_command("-m", "flows", "-k", FLOW, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(embedded simulator)" in result.stdout.splitlines()[0]
    assert "Conformance by area: http://127.0.0.1:" in result.stdout


def test_empty_selection_exits_2_and_says_so(tmp_path: Path) -> None:
    result = run_command("-k", "no_test_is_called_this", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no tests selected by -m/-k" in result.stderr
    assert "Conformance by area" not in result.stdout


def test_missing_settings_name_the_variable_and_the_suite(tmp_path: Path) -> None:
    with stalling_target() as url:  # no control API, so nothing can be discovered
        env = {"BW_USERNAME": "u", "BW_PASSWORD": "p", "BW_ACCOUNT_ID": "1"}
        result = run_command("--target", url, "-m", "flows", cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "set BW_NUMBER" in result.stderr
    assert "set BW_LOOPBACK_NUMBER" in result.stderr
    assert "flows suite" in result.stderr


def test_a_stalled_target_ends_at_max_time_with_exit_2(tmp_path: Path) -> None:
    with stalling_target() as url:
        env = {
            "BW_USERNAME": "u",
            "BW_PASSWORD": "p",
            "BW_ACCOUNT_ID": "1",
            "BW_NUMBER": "+15555550100",
            "BW_VOICE_APPLICATION_ID": "11111111-1111-4111-8111-111111111111",
        }
        args = ("--target", url, "-m", "api", "--max-time", "6", "--request-timeout", "300")
        result = run_command(*args, cwd=tmp_path, env=env, timeout=240)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "exceeded --max-time 6 s" in result.stdout


def test_output_off_a_terminal_is_never_wrapped(tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9/a-long-callback-base-path-that-would-be-wrapped-at-eighty-columns"
    result = run_command("-m", "flows", "-k", FLOW, "--callback-base-url", dead, "--seed", "7", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if "reproduce:" in line]
    assert lines, result.stdout
    assert all(line.rstrip().endswith(f"-k {FLOW}") and "--seed 7" in line for line in lines), lines
    assert any(len(line) > 100 for line in result.stdout.splitlines()), "nothing long enough to have wrapped"


def test_junit_names_the_target_and_seed_and_is_written_whole(tmp_path: Path) -> None:
    report = tmp_path / "out" / "junit.xml"
    result = run_command("-m", "flows", "-k", FLOW, "--seed", "11", "--junitxml", str(report), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    root = ET.parse(report).getroot()
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties["bw.seed"] == "11"
    assert properties["bw.target"].startswith("http://127.0.0.1:")
    assert "oauth2" in properties["bw.auth"]
    assert not list(report.parent.glob(".*partial"))
    assert not list(report.parent.glob(".*tmp"))


def test_no_hypothesis_database_is_left_in_the_working_directory(tmp_path: Path) -> None:
    selection = f"test_operation[getStatistics] or test_valid_bxml_is_accepted_on_a_live_call or {FLOW}"
    result = run_command("-k", selection, "--max-examples", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / ".hypothesis").exists()


def test_the_readme_command_against_serve_in_oauth2_mode_passes_every_suite(tmp_path: Path) -> None:
    """The README's command: only BW_CLIENT_ID, BW_CLIENT_SECRET and BW_ACCOUNT_ID, against a
    separately started `serve --auth oauth2` (Basic refused there, as on the platform after the cutoff)."""
    report = tmp_path / "junit.xml"
    with serve("--auth", "oauth2", cwd=tmp_path) as base_url:
        args = ("--target", base_url, "--max-examples", "5", "--junitxml", str(report))
        result = run_command(*args, cwd=tmp_path, env=_oauth_env(), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(auth oauth2)" in result.stdout.splitlines()[1]
    root = ET.parse(report).getroot()
    suite = next(root.iter("testsuite"))
    cases = list(suite.iter("testcase"))
    assert int(suite.get("tests", "0")) == len(cases)
    names = {case.get("name") for case in cases}
    assert {"test_operation[createCall]", "test_operation[getCallState]"} <= names


def test_tokens_revoked_during_a_run_are_replaced_transparently(tmp_path: Path) -> None:
    """While the run goes on, its credential's tokens are revoked again and again; every suite's
    requests get a fresh token after the 401 and the run still passes."""
    import threading

    import httpx

    stop = threading.Event()
    with serve("--auth", "oauth2", cwd=tmp_path) as base_url:

        def revoke() -> None:
            while not stop.wait(1.5):
                httpx.post(f"{base_url}/_sim/credentials/bw-client/revoke", timeout=10)

        revoker = threading.Thread(target=revoke, daemon=True)
        revoker.start()
        try:
            selection = f"test_operation[getStatistics] or test_operation[listCalls] or {FLOW}"
            result = run_command(
                "--target", base_url, "-k", selection, "--max-examples", "5", cwd=tmp_path, env=_oauth_env()
            )
        finally:
            stop.set()
            revoker.join(timeout=15)
        log = httpx.get(f"{base_url}/_sim/requests", params={"limit": 100000}, timeout=10).json()
    assert result.returncode == 0, result.stdout + result.stderr
    records = log["requests"] if isinstance(log, dict) else log
    rules = [record.get("rule") for record in records]
    assert "token-revoked" in rules, "no revocation landed during the run"
    assert sum(record.get("operation") == "createOAuth2Token" for record in records) >= 2


def test_the_project_it_runs_in_stays_out_of_the_run(tmp_path: Path) -> None:
    """A voice-app project's conftest.py files, PYTEST_ADDOPTS and PYTEST_PLUGINS are its own
    pytest setup: none of them runs inside, changes or breaks the conformance run."""
    marker = tmp_path / "imported.txt"
    hostile = (
        f"open({str(marker)!r}, 'a').write(__file__ + '\\n')\n"
        "import pytest\n\n"
        "@pytest.fixture(autouse=True)\n"
        "def _break_everything():\n"
        "    raise RuntimeError('a project fixture ran inside the conformance run')\n"
    )
    (tmp_path / "conftest.py").write_text(hostile, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(hostile, encoding="utf-8")
    environment = {"PYTEST_ADDOPTS": "--no-such-option -x", "PYTEST_PLUGINS": "no_such_plugin_module"}
    selection = ("-m", "bxml", "-k", "test_valid_bxml_is_accepted_on_a_live_call", "--max-examples", "2")
    result = run_command(*selection, "--seed", "5", cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert not marker.exists(), marker.read_text()
