"""``bw-conformance serve``: options, exit code 2 for bad input, and a real foreground run."""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from conformance.commands.serve import DEFAULT_PORT, command
from tests.trust_helpers import serve_process

CONTROL_TOKEN = "serve-test-control-token-0123456789"


def test_bad_accounts_file_exits_2_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "accounts.yml"
    bad.write_text("accounts: [{id: 1}]")
    result = CliRunner().invoke(command, ["--accounts", str(bad), "--port", "0"])
    assert result.exit_code == 2
    assert str(bad) in result.output
    assert "'username' is required" in result.output


def test_port_in_use_exits_2() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(command, ["--port", str(port)])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.output


def test_bad_options_exit_2() -> None:
    bad = [["--time-scale", "0"], ["--time-scale", "1e300"], ["--port", "70000"], ["--cps", "-1"]]
    bad += [["--keep-alive", "0"], ["--keep-alive", "1e9"], ["--cps", "1e-320"]]
    for args in bad:
        assert CliRunner().invoke(command, args).exit_code == 2, args
    assert DEFAULT_PORT == 8080


def test_serve_runs_logs_requests_and_stops_on_sigint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = "from conformance.cli import main; main()"
    argv = [sys.executable, "-c", code, "serve", "--port", "0", "--log-requests", "--time-scale", "1"]
    argv += ["--keep-alive", "120"]
    monkeypatch.setenv("BW_SIM_CONTROL_TOKEN", CONTROL_TOKEN)  # the control API then needs it
    with serve_process(argv, cwd=tmp_path) as served:
        base, lines = served.base_url, served.lines
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        r = httpx.post(
            f"{base}/accounts/9900000/calls", json={"to": "x"}, auth=("bw-user", "bw-pass"), timeout=10
        )
        assert r.status_code == 400
        assert httpx.get(f"{base}/_sim/clock", timeout=10).status_code == 401
        bearer = {"Authorization": f"Bearer {CONTROL_TOKEN}"}
        assert httpx.get(f"{base}/_sim/clock", headers=bearer, timeout=10).json()["timeScale"] == 1.0
        seen = ""
        while "createCall" not in seen:
            seen = lines.get(timeout=30)
        assert "POST /accounts/9900000/calls -> 400 createCall  [invalid-to]" in seen
        # --auth both (the default): Basic still works and each such request is flagged
        assert httpx.get(f"{base}/health", timeout=10).json()["auth"] == "both"
        r = httpx.get(f"{base}/accounts/9900000/calls", auth=("bw-user", "bw-pass"), timeout=10)
        assert r.status_code == 200
        while "listCalls" not in seen:
            seen = lines.get(timeout=30)
        assert "GET /accounts/9900000/calls -> 200 listCalls  [legacy-basic-auth]" in seen
    assert served.process.returncode == 0


def test_serve_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    """docker stop, systemd and kill send SIGTERM: the same graceful stop as Ctrl-C, exit 0."""
    code = "from conformance.cli import main; main()"
    argv = [sys.executable, "-c", code, "serve", "--port", "0"]
    with serve_process(argv, cwd=tmp_path) as served:
        assert httpx.get(f"{served.base_url}/health", timeout=10).status_code == 200
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=60) == 0
        said = ""
        while "Simulator stopped." not in said:  # its last line (queue.Empty if it never comes)
            said = served.lines.get(timeout=30)
