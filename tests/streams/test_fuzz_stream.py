"""``fuzz-stream``: the example agent passes, copies with one planted bug fail with that bug, and the
exit codes, deadline, replay and fixture behave as for ``fuzz-app``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from websockets.asyncio.server import ServerConnection

from conformance.cli import main
from conformance.errors import ConfigurationError, TargetUnreachableError
from conformance.fuzz.streams import KINDS, StreamFuzzer, fuzz_stream, plan_session

from .agents import BROKEN, agent_module, load, serving, serving_handler


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, ["fuzz-stream", *args], catch_exceptions=False)


def test_the_example_agent_passes_every_kind_in_bidirectional_mode() -> None:
    with serving(agent_module.Agent()) as url:
        report = fuzz_stream(url, sessions=2 * len(KINDS), seed=3, bidirectional=True)
    assert report.ok, report.format_text()
    assert set(report.stats) == set(KINDS)
    assert all(stat.sessions == 2 for stat in report.stats.values())


@pytest.mark.parametrize("bug", sorted(BROKEN))
def test_a_planted_bug_exits_1_naming_its_check_and_how_to_replay(bug: str) -> None:
    replace, check = BROKEN[bug]
    module = load(f"stream_agent_{bug.replace('-', '_')}", replace)
    with serving(module.Agent()) as url:
        result = _invoke(url, "--sessions", "16", "--seed", "5", "--bidirectional")
        assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
        output = result.stdout  # type: ignore[attr-defined]
        assert check in output
        assert "reproduce: bw-conformance fuzz-stream" in output
        # the replay command names one session; run alone it finds the same check again
        line = next(line for line in output.splitlines() if "reproduce:" in line)
        session = line.split("--session ")[1].split()[0]
        alone = fuzz_stream(url, seed=5, only_session=int(session), bidirectional=True)
    assert check in {finding.check for finding in alone.findings}
    assert alone.sessions == 1


def test_a_clean_run_exits_0_with_the_table() -> None:
    with serving(agent_module.Agent()) as url:
        result = _invoke(url, "--sessions", "8", "--seed", "1", "--kinds", "call,garbage")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "no problems found" in result.stdout  # type: ignore[attr-defined]
    assert "garbage" in result.stdout  # type: ignore[attr-defined]


def test_nothing_listening_exits_2() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _invoke(f"ws://127.0.0.1:{port}/agent", "--sessions", "1")
    assert result.exit_code == 2
    assert "does not answer" in result.stderr  # type: ignore[attr-defined]
    with pytest.raises(TargetUnreachableError):
        fuzz_stream(f"ws://127.0.0.1:{port}/agent", sessions=1)


def test_usage_errors_exit_2() -> None:
    assert _invoke("http://127.0.0.1:1/", "--sessions", "1").exit_code == 2  # type: ignore[attr-defined]
    assert _invoke("ws://127.0.0.1:1/", "--kinds", "nonsense").exit_code == 2  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError):
        fuzz_stream("ws://127.0.0.1:1/", sessions=0)


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _answer_close(conn: socket.socket) -> None:
    """Read client frames until a close frame, then send a close frame back (RFC 6455, unmasked)."""
    while True:
        head = _recv_exactly(conn, 2)
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(_recv_exactly(conn, 2), "big")
        elif size == 127:
            size = int.from_bytes(_recv_exactly(conn, 8), "big")
        _recv_exactly(conn, 4 + size)  # the mask and the payload
        if head[0] & 0x0F == 0x8:
            conn.sendall(b"\x88\x02\x03\xe8")  # close, code 1000
            return


@contextmanager
def _stuck_after(served: int) -> Iterator[str]:
    """A hand-written websocket endpoint: its first ``served`` connections are served (the close is
    answered), every later one completes the handshake and is never answered again: a stuck agent."""
    accepting = socket.create_server(("127.0.0.1", 0))
    accepting.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = accepting.accept()
            except TimeoutError:
                continue
            held.append(conn)
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096) or b"\r\n\r\n"
            key = next(
                (
                    line.split(b":", 1)[1].strip()
                    for line in request.split(b"\r\n")
                    if line.lower().startswith(b"sec-websocket-key:")
                ),
                b"",
            )
            accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest())
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            if len(held) <= served:
                with contextlib.suppress(OSError):
                    _answer_close(conn)
                conn.close()  # the server ends the TCP connection after the closing handshake

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{accepting.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        accepting.close()


_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's constant for Sec-WebSocket-Accept


def test_an_app_that_stops_answering_misses_its_deadline_and_is_down() -> None:
    with _stuck_after(1) as url:
        report = fuzz_stream(url, kinds=("call",), sessions=3, seed=1, timeout=0.3)
    assert [f.check for f in report.findings] == ["deadline", "down"]  # the run stops once it is down
    assert report.sessions == 1
    assert "was not over after 0.3 s" in report.findings[0].message


def test_an_app_stuck_from_the_start_is_unreachable() -> None:
    with _stuck_after(0) as url, pytest.raises(TargetUnreachableError, match=r"within 0\.3 s"):
        fuzz_stream(url, sessions=1, timeout=0.3)


def test_an_app_that_dies_on_a_binary_frame_is_reported_down_or_error_close() -> None:
    async def handler(connection: ServerConnection) -> None:
        async for message in connection:
            if isinstance(message, bytes):
                raise RuntimeError("cannot handle bytes")  # websockets closes with 1011

    with serving_handler(handler) as url:
        report = fuzz_stream(url, kinds=("garbage",), sessions=6, seed=4)
    assert ("garbage", "error-close") in report.checks_failed()
    assert all(f.kind == "garbage" for f in report.findings)


def test_sessions_are_deterministic_per_seed_and_index() -> None:
    for kind in KINDS:
        assert plan_session(11, 3, kind) == plan_session(11, 3, kind)
    assert plan_session(11, 3, "call") != plan_session(12, 3, "call")


def test_the_fixture_fuzzes_and_keeps_its_reports(bw_fuzz_stream: StreamFuzzer) -> None:
    with serving(agent_module.Agent()) as url:
        report = bw_fuzz_stream.assert_clean(url, sessions=4, seed=9)
    assert bw_fuzz_stream.reports == [report]


def test_it_can_be_called_from_async_code() -> None:
    async def from_a_coroutine(url: str) -> bool:
        return fuzz_stream(url, sessions=2, seed=1).ok

    with serving(agent_module.Agent()) as url:
        assert asyncio.run(from_a_coroutine(url))
