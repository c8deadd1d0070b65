"""Issue 11 §7 and issue 12 (keep-alive): what the simulator does with slow, broken and too many
connections, over real sockets against a simulator on 127.0.0.1.

Deadlines are set short here (a fraction of a second) so the tests see them fire; no test asserts
how long anything took, only what the server answered and whether it closed the connection.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.simulator import Simulator
from conformance.simulator.config import DEFAULT_KEEP_ALIVE, SimulatorConfig
from conformance.simulator.lifecycle import LifecycleEngine
from conformance.simulator.server import connection_limits, uvicorn_config

from .conftest import ACCOUNT

_BASIC = base64.b64encode(b"bw-user:bw-pass").decode()
_WAIT = 15.0  # an upper bound for a socket read, never an expectation


def _address(sim: Simulator) -> tuple[str, int]:
    host, _, port = sim.base_url.removeprefix("http://").rpartition(":")
    return host, int(port)


def _connect(sim: Simulator) -> socket.socket:
    sock = socket.create_connection(_address(sim), timeout=_WAIT)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length body, leaving the connection open."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        assert data, f"connection closed before a response: {buffer!r}"
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        data = sock.recv(65536)
        assert data
        rest += data
    return status, headers, rest[:length]


def _parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body) if body else None


def _assert_api_error(raw: bytes, status: int) -> dict[str, Any]:
    code, headers, body = _parse(raw)
    assert code == status, raw
    assert headers["content-type"].startswith("application/json")
    assert set(body) == {"type", "description", "id"}
    assert isinstance(body["description"], str)
    assert body["description"]
    return dict(body)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[Simulator]:
    """Short header and body deadlines, a long keep-alive."""
    with Simulator(
        engine_factory=LifecycleEngine, header_timeout=0.3, body_timeout=0.3, keep_alive=60
    ) as sim:
        yield sim


@pytest.fixture(scope="module")
def patient_sim() -> Iterator[Simulator]:
    """Default deadlines: a body deadline never races a test that closes mid-body."""
    with Simulator(engine_factory=LifecycleEngine) as sim:
        yield sim


def test_keep_alive_is_75_seconds_by_default_and_configurable() -> None:
    config = SimulatorConfig()
    assert config.keep_alive == DEFAULT_KEEP_ALIVE == 75
    assert uvicorn_config(object(), config).timeout_keep_alive == 75
    assert uvicorn_config(object(), SimulatorConfig(keep_alive=300)).timeout_keep_alive == 300


@pytest.mark.parametrize("descriptors", [64, 256, 1024, 4096, 20_000, 1_000_000])
def test_open_connections_and_accept_batches_fit_the_descriptor_limit(descriptors: int) -> None:
    """asyncio accepts a whole backlog before answering any: both must fit, with room to spare."""
    cap, backlog = connection_limits(SimulatorConfig(), descriptors)
    assert 1 <= cap <= SimulatorConfig().max_connections
    assert cap + backlog < descriptors * 0.8
    assert connection_limits(SimulatorConfig(max_connections=5), descriptors)[0] == 5  # the setting wins


def test_an_idle_keep_alive_connection_outlives_the_header_deadline(slow_sim: Simulator) -> None:
    """The header deadline (0.3 s here) never closes a connection idling between requests."""
    request = f"GET /accounts/{ACCOUNT}/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {_BASIC}\r\n\r\n"
    with _connect(slow_sim) as sock:
        sock.sendall(request.encode())
        assert _read_response(sock)[0] == 200
        time.sleep(1.0)  # more than three header deadlines, far less than the keep-alive
        sock.sendall(request.encode())
        assert _read_response(sock)[0] == 200


def test_idle_connection_closes_after_keep_alive() -> None:
    with Simulator(engine_factory=LifecycleEngine, keep_alive=1) as sim, _connect(sim) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock)[0] == 200
        assert _read_all(sock) == b""  # closed by the server (the read would time out otherwise)


def test_slow_headers_get_408_and_the_connection_closes(slow_sim: Simulator) -> None:
    with _connect(slow_sim) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")  # ... and never the rest
        body = _assert_api_error(_read_all(sock), 408)
    assert "headers" in body["description"]


def test_a_connection_that_sends_nothing_is_closed(slow_sim: Simulator) -> None:
    with _connect(slow_sim) as sock:
        assert _read_all(sock) == b""


def test_slow_body_gets_408_and_the_connection_closes(slow_sim: Simulator) -> None:
    head = (
        f"POST /accounts/{ACCOUNT}/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {_BASIC}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with _connect(slow_sim) as sock:
        sock.sendall(head.encode() + b'{"to": ')  # 7 of 100 bytes
        raw = _read_all(sock)
    _assert_api_error(raw, 408)
    assert _parse(raw)[1]["connection"] == "close"
    record = slow_sim.store.requests[-1]
    assert (record.status, record.rule) == (408, "body-timeout")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000,  # unfinished, over h11's 16 KB
        b"NOT-HTTP\r\n\r\n",
    ],
    ids=[
        "content-length-text",
        "two-content-lengths",
        "bad-chunk-size",
        "no-colon",
        "endless-header",
        "garbage",
    ],
)
def test_framing_errors_get_a_voice_api_error_body(slow_sim: Simulator, request_bytes: bytes) -> None:
    with _connect(slow_sim) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # answered before all was read
            sock.sendall(request_bytes)
        _assert_api_error(_read_all(sock), 400)


def test_oversized_headers_get_431(slow_sim: Simulator) -> None:
    big = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(40)
    )
    with _connect(slow_sim) as sock:
        sock.sendall(big + b"\r\n")
        raw = _read_all(sock)
    _assert_api_error(raw, 431)


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        (
            f"/accounts/{ACCOUNT}/calls",
            f"Authorization: Basic {_BASIC}\r\nContent-Type: application/json\r\n",
        ),
        ("/api/v1/oauth2/token", "Content-Type: application/x-www-form-urlencoded\r\n"),
    ],
    ids=["createCall", "token-endpoint"],
)
def test_a_client_leaving_mid_body_is_a_logged_400_not_a_crash(
    patient_sim: Simulator, path: str, extra: str
) -> None:
    collect = _Collect()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "conformance.simulator")]
    for logger in loggers:
        logger.addHandler(collect)
    try:
        seq = patient_sim.store.next_request_seq()
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: 1000\r\n\r\n"
        with _connect(patient_sim) as sock:
            sock.sendall(head.encode() + b"grant_type=client")
            time.sleep(0.05)  # let the handler start reading the body
        records = []
        for _ in range(300):  # the server notices the close on its own thread
            records = [r for r in patient_sim.store.requests if r.seq > seq and r.path == path]
            if records:
                break
            time.sleep(0.01)
    finally:
        for logger in loggers:
            logger.removeHandler(collect)
    assert [(r.status, r.rule) for r in records] == [(400, "body-incomplete")]
    assert not [r for r in collect.records if r.levelno >= logging.ERROR or r.exc_info]


def test_connections_beyond_the_cap_get_503_and_others_still_work() -> None:
    with Simulator(engine_factory=LifecycleEngine, max_connections=3) as sim:
        idle = [_connect(sim) for _ in range(3)]
        try:
            # The server counts a connection once it has accepted it; give it the chance.
            for sock in idle:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                assert _read_response(sock)[0] == 200
            with _connect(sim) as extra:
                body = _assert_api_error(_read_all(extra), 503)
            assert "connections" in body["description"]
            idle.pop().close()
            deadline = time.monotonic() + _WAIT
            while True:  # the freed slot is usable once the server has seen the close
                with _connect(sim) as again:
                    again.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    status = _parse(_read_until_status(again))[0]
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert status == 200
        finally:
            for sock in idle:
                sock.close()


def _read_until_status(sock: socket.socket) -> bytes:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            break
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    return head + b"\r\n\r\n" + rest
