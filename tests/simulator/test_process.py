"""The embedded simulator in a process of its own (what ``bw-conformance run`` starts without --target)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from conformance.errors import SimulatorStartError
from conformance.simulator.process import SimulatorProcess


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a parent that is gone) counts as stopped.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pid: int, within: float = 60.0) -> bool:
    """Poll until ``pid`` has stopped; a bound on waiting, not a measured duration."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_it_serves_the_voice_api_and_stops_with_its_context() -> None:
    with SimulatorProcess() as simulator:
        child = simulator._process
        assert child is not None
        assert simulator.base_url.startswith("http://127.0.0.1:")
        health = httpx.get(simulator.base_url + "/health", timeout=10).json()
        assert health["status"] == "ok"
        token = httpx.post(
            simulator.base_url + "/api/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("bw-client", "bw-client-secret"),
            timeout=10,
        )
        assert token.status_code == 200, token.text
        assert child.pid != os.getpid()
    assert child.returncode == 0  # stopped gracefully, not killed
    with pytest.raises(httpx.TransportError):
        httpx.get(simulator.base_url + "/health", timeout=2)


def test_ctrl_c_does_not_stop_it_the_run_does() -> None:
    """SIGINT (Ctrl-C reaches a terminal's whole foreground group) leaves the simulator serving."""
    with SimulatorProcess() as simulator:
        child = simulator._process
        assert child is not None
        child.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert child.poll() is None
        assert httpx.get(simulator.base_url + "/health", timeout=10).status_code == 200
        assert os.getpgid(child.pid) != os.getpgid(0)  # a session of its own


def test_it_does_not_outlive_a_run_that_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, signal
            from conformance.simulator.process import SimulatorProcess
            simulator = SimulatorProcess().start()
            print(simulator._process.pid, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
            """
        ),
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    child_pid = int(run.stdout.split()[0])
    assert _wait_gone(child_pid), "the simulator kept running after its run was killed"


def _fake_python(tmp_path: Path, body: str) -> str:
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    fake.chmod(0o755)
    return str(fake)


def test_a_child_that_dies_at_start_is_a_named_error_with_its_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "echo 'port 8080 is taken' >&2; exit 3"))
    with pytest.raises(SimulatorStartError, match="did not start: it stopped before it was ready") as caught:
        SimulatorProcess().start()
    assert "port 8080 is taken" in str(caught.value)
    assert caught.value.reason == "simulator-start"


def test_a_child_that_never_answers_is_killed_after_the_start_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pid"
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, f"echo $$ > {marker}; exec sleep 600"))
    with pytest.raises(SimulatorStartError, match=r"no answer within 0\.5 s"):
        SimulatorProcess(start_timeout=0.5).start()
    assert not _alive(int(marker.read_text()))


def test_what_it_writes_to_stderr_reaches_the_runs_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with SimulatorProcess() as simulator:
        port = int(simulator.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            raw.recv(1024)
    assert "Invalid HTTP request" in capfd.readouterr().err


def test_start_twice_is_refused() -> None:
    with SimulatorProcess() as simulator, pytest.raises(SimulatorStartError, match="already running"):
        simulator.start()


def test_a_package_named_conformance_in_the_current_directory_is_not_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project may have its own `conformance/` package: the child imports this one all the same."""
    own = tmp_path / "conformance"
    own.mkdir()
    (own / "__init__.py").write_text("raise ImportError('the project own package was imported')\n")
    monkeypatch.chdir(tmp_path)
    with SimulatorProcess() as simulator:
        assert httpx.get(simulator.base_url + "/health", timeout=10).status_code == 200


def test_output_before_the_ready_line_is_passed_on_not_taken_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    noisy = _fake_python(tmp_path, f'echo "a library says hello"; exec {sys.executable} "$@"')
    monkeypatch.setattr(sys, "executable", noisy)
    with SimulatorProcess() as simulator:
        assert httpx.get(simulator.base_url + "/health", timeout=10).status_code == 200
    assert "a library says hello" in capfd.readouterr().out
