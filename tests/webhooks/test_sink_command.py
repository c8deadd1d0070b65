"""``bw-conformance sink`` as a user runs it: a process, webhooks over HTTP, Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from conformance.commands.sink import command
from conformance.webhooks import events

from .conftest import SMALL_CATALOGUE, payload

TESTS_DIR = Path(__file__).resolve().parents[1]

# The command reads the catalogue from the contract; these runs use the small test catalogue.
LAUNCHER = f"""
import sys
sys.path.insert(0, {str(TESTS_DIR)!r})
from webhooks.conftest import SMALL_CATALOGUE
import conformance.webhooks.events as events
events.catalogue = lambda: SMALL_CATALOGUE
from conformance.commands.sink import command
command(sys.argv[1:], prog_name="bw-conformance sink")
"""


class Running:
    """The sink command in its own process; stdout read line by line on a thread."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("BW_CALLBACK_BASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        first = self.readline()
        while not first.startswith("sink listening on "):  # warnings come first
            first = self.readline()
        assert first.startswith("sink listening on http://127.0.0.1:"), first
        self.url = first.split()[3]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def readline(self, limit: float = 20.0) -> str:
        """The next stdout line; the limit only guards against a hung process."""
        try:
            line = self.lines.get(timeout=limit)
        except queue.Empty:
            line = None
        if line is None:
            self.kill()
            raise AssertionError(f"no more output from the sink; so far: {self.seen}")
        self.seen.append(line)
        return line

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.finish()

    def finish(self) -> tuple[int, str]:
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()
        rest: list[str] = []
        while (line := self.lines.get_nowait() if not self.lines.empty() else None) is not None:
            rest.append(line)
        return self.process.returncode, "\n".join(self.seen + rest)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as http:
        yield http


def test_prints_records_replies_and_stops_on_ctrl_c(tmp_path: Path, client: httpx.Client) -> None:
    bxml = tmp_path / "answer.xml"
    bxml.write_text("<Response><SpeakSentence>hi</SpeakSentence></Response>")
    log = tmp_path / "hooks.jsonl"
    sink = Running("--log", str(log), "--reply", f"answer={bxml}")
    try:
        reply = client.post(sink.url + "/app/answer", json=payload("answer"), auth=("bw", "secret"))
        assert reply.text == bxml.read_text()
        assert "POST /app/answer answer callId=c-1 -> 200 (scripted)" in sink.readline()
        assert sink.readline() == "    auth: bw:******"
        client.post(sink.url + "/app/status", json=payload("disconect"))
        assert "disconect" in sink.readline()
        assert "! eventType: 'disconect' is not an event of the contract" in sink.readline()
    finally:
        sink.process.send_signal(signal.SIGINT)
    code, output = sink.finish()
    assert "stopping" in output
    assert "2 request(s) received, 1 with problems" in output
    assert code == 1  # a webhook broke the contract
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["event_type"] for r in records] == ["answer", "disconect"]


def test_clean_run_with_max_requests_exits_0(client: httpx.Client) -> None:
    sink = Running("--max-requests", "1")
    client.post(sink.url + "/x", json=payload("disconnect"))
    code, output = sink.finish()
    assert code == 0, output
    assert "1 request(s) received, 0 with problems" in output


def test_public_base_url_is_shown(client: httpx.Client) -> None:
    sink = Running("--max-requests", "1", "--public-base-url", "https://tunnel.example")
    assert "(public https://tunnel.example)" in sink.seen[-1]
    client.post(sink.url + "/x", json=payload("disconnect"))
    assert sink.finish()[0] == 0


def test_replies_that_would_fail_are_warned_about(tmp_path: Path, client: httpx.Client) -> None:
    bridge = tmp_path / "bridge.xml"
    bridge.write_text("<Response><Bridge>c-1234</Bridge></Response>")
    sink = Running(
        "--max-requests", "1", "--reply", f"transferAnswer={bridge}", "--reply", f"disconnect={bridge}"
    )
    warnings = [line for line in sink.seen if line.startswith("warning:")]
    assert any("<Bridge> is not allowed in transferAnswer BXML" in w for w in warnings), warnings
    assert "warning: disconnect takes no BXML; the platform ignores the reply body" in warnings
    # sent anyway: a test may mean to send BXML the platform rejects
    assert client.post(sink.url + "/t", json=payload("transferAnswer")).text == bridge.read_text()
    assert sink.finish()[0] == 0


def test_faults_on_purpose(client: httpx.Client) -> None:
    sink = Running("--max-requests", "3", "--fault", "answer=503", "--fault", "gather=drop")
    assert client.post(sink.url + "/a", json=payload("answer")).status_code == 503
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(sink.url + "/g", json=payload("gather"))
    assert client.post(sink.url + "/d", json=payload("disconnect")).status_code == 204
    code, output = sink.finish()
    assert code == 0, output
    assert "-> 503 (fault)" in output
    assert "-> dropped (fault)" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "answer=teapot"], "expected EVENT=STATUS"),
        (["--fault", "answer=delay:soon"], "expected EVENT=STATUS"),
        (["--reply", "answer"], "expected EVENT=FILE"),
        (["--reply", "answer=/no/such/file.xml"], "cannot read"),
        (["--port", "70000"], "70000"),
    ],
)
def test_bad_options_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 2
    assert message in result.output


def test_unknown_event_in_reply_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "catalogue", lambda: SMALL_CATALOGUE)
    bxml = tmp_path / "r.xml"
    bxml.write_text("<Response/>")
    result = CliRunner().invoke(command, ["--reply", f"recordingComplete={bxml}"])
    assert result.exit_code == 2
    assert "unknown webhook event 'recordingComplete'" in result.output


def test_busy_port_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "catalogue", lambda: SMALL_CATALOGUE)
    sink = Running("--max-requests", "1")
    try:
        port = sink.url.rsplit(":", 1)[1]
        result = CliRunner().invoke(command, ["--port", port])
        assert result.exit_code == 2
        assert f"the sink cannot listen on 127.0.0.1:{port}" in result.output
    finally:
        sink.process.send_signal(signal.SIGINT)
        sink.finish()
