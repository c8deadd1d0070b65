"""Delivery: POST JSON or GET query parameters, Basic auth, timeouts, curl reproductions."""

from __future__ import annotations

import asyncio
import json
import shlex
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from conformance.errors import ConfigurationError, TargetUnreachableError
from conformance.fuzz import fuzz_app
from conformance.fuzz.targets import MAX_REPLY_BYTES, Target, curl_command, query_params

from . import apps

PAYLOAD: dict[str, Any] = {
    "eventType": "gather",
    "digits": "",
    "tag": "a&b <c> 'd' \"e\" é",
    "answerTime": None,
    "sipHeaders": {"x-a": "1"},
}


def test_post_sends_the_payload_as_json_with_basic_auth(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response("<Response/>", content_type="application/xml")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    with Target(httpserver.url_for("/"), auth=("user", "pw")) as target:
        exchange = target.send(target.resolve("/hook"), PAYLOAD)
    assert exchange.status == 200
    assert exchange.body == b"<Response/>"
    (request,) = seen
    assert json.loads(request.data) == PAYLOAD
    assert request.headers["Content-Type"] == "application/json"
    assert request.authorization is not None
    assert (request.authorization.username, request.authorization.password) == ("user", "pw")


def test_get_sends_query_parameters(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(status=204)

    httpserver.expect_request("/", method="GET").respond_with_handler(handler)
    with Target(httpserver.url_for("/"), method="GET") as target:
        assert target.send(target.resolve(None), PAYLOAD).status == 204
    args = seen[0].args
    assert args["tag"] == PAYLOAD["tag"]
    assert args["digits"] == ""
    assert "answerTime" not in args  # null fields are left out
    assert json.loads(args["sipHeaders"]) == {"x-a": "1"}


def test_query_params_encode_scalars() -> None:
    assert query_params({"a": 1, "b": True, "c": "x", "d": None}) == {"a": "1", "b": "true", "c": "x"}


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_curl_reproduces_the_same_request(method: Any) -> None:
    command = curl_command(method, "http://127.0.0.1:9/hook", PAYLOAD, "user")
    words = shlex.split(command)
    assert words[0] == "curl"
    assert words[words.index("-u") + 1] == "user"  # curl asks for the password itself
    if method == "POST":
        assert json.loads(words[words.index("--data-raw") + 1]) == PAYLOAD
    else:
        encoded = [words[i + 1] for i, w in enumerate(words) if w == "--data-urlencode"]
        assert f"tag={PAYLOAD['tag']}" in encoded


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_app_fails_before_fuzzing() -> None:
    with pytest.raises(TargetUnreachableError) as caught:
        fuzz_app(f"http://127.0.0.1:{_free_port()}/", events=["answer"], max_examples=1)
    assert caught.value.reason == "target-unreachable"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"events": ["noSuchEvent"]}, "unknown-event"),
        ({"routes": {"noSuchEvent": "/x"}}, "unknown-event"),
        ({"max_examples": 0}, "bad-max-examples"),
        ({"callback_timeout": 0}, "bad-timeout"),
        ({"method": "PUT"}, "bad-method"),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        fuzz_app(apps.create_app(), **kwargs)
    assert caught.value.reason == reason


def test_bad_urls_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not an http"):
        Target("ftp://example.com/")
    with pytest.raises(ConfigurationError, match="url="):
        fuzz_app("http://127.0.0.1:1/", url="/x")


def test_a_url_target_times_out(live: Any) -> None:
    with live(apps.create_app(apps.SlowRedirect())) as url:
        report = fuzz_app(
            url, events=["redirect"], max_examples=3, callback_timeout=0.5, seed=1, sequences=False
        )
    assert report.checks_failed() == {("redirect", "timeout")}
    assert "no reply within 0.5 s" in report.findings[0].message


def test_routes_send_an_event_elsewhere() -> None:
    paths: list[str] = []
    inner = apps.create_app()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            paths.append(scope["path"])
        await inner(scope, receive, send)

    report = fuzz_app(
        app,
        url="/hooks",
        routes={"gather": "/gather"},
        events=["gather", "answer"],
        max_examples=3,
        sequences=False,
    )
    assert report.ok
    assert set(paths) == {"/hooks", "/gather"}
    assert report.findings == []


def test_basic_auth_reaches_an_in_process_app() -> None:
    app = apps.create_app(credentials=("bw", "secret"))
    denied = fuzz_app(app, events=["dtmf"], max_examples=2, sequences=False)
    assert denied.checks_failed() == {("dtmf", "status")}
    assert denied.findings[0].status == 401
    allowed = fuzz_app(app, events=["dtmf"], max_examples=2, sequences=False, auth=("bw", "secret"))
    assert allowed.ok


def test_in_process_curl_points_at_app_url() -> None:
    import subprocess

    command = curl_command("POST", "http://testserver/gather?x=1", PAYLOAD, in_process=True)
    assert command.startswith("curl ")
    echo = "printf '%s\\n'" + command[len("curl") :]
    env = {"APP_URL": "http://127.0.0.1:8123", "PATH": "/usr/bin:/bin"}
    words = subprocess.run(
        ["bash", "-c", echo], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert "http://127.0.0.1:8123/gather?x=1" in words
    assert json.loads(words[words.index("--data-raw") + 1]) == PAYLOAD


async def _endless_asgi(scope: Any, receive: Any, send: Any) -> None:
    """Answers every webhook with a chunked body that never ends (a comment every 10 ms)."""
    while (await receive()).get("more_body"):
        pass
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/xml")]}
    )
    await send({"type": "http.response.body", "body": b"<Response>", "more_body": True})
    while True:
        await send({"type": "http.response.body", "body": b"<!-- -->", "more_body": True})
        await asyncio.sleep(0.01)


def _endless_wsgi(environ: Any, start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "application/xml")])
    yield b"<Response>"
    while True:
        time.sleep(0.01)
        yield b"<!-- -->"


@pytest.mark.parametrize("kind", ["url", "asgi", "wsgi"])
def test_a_reply_that_streams_forever_times_out_once_per_reply(live: Any, kind: str) -> None:
    """The callback timeout is one deadline per reply, not per read: the run ends."""
    events = {
        "events": ["redirect"],
        "max_examples": 3,
        "callback_timeout": 0.5,
        "seed": 1,
        "sequences": False,
    }
    if kind == "url":
        with live(_endless_asgi) as url:
            report = fuzz_app(url, **events)
    else:
        report = fuzz_app(_endless_asgi if kind == "asgi" else _endless_wsgi, **events)
    assert report.checks_failed() == {("redirect", "timeout")}
    assert report.stats["redirect"].sent == 1  # a unit that timed out sends nothing more


def test_a_reply_beyond_the_cap_is_not_read_to_its_end(live: Any) -> None:
    big = b"<Response>" + b" " * (2 * MAX_REPLY_BYTES) + b"</Response>"

    async def flood(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/xml")]}
        )
        for start in range(0, len(big), 65536):
            await send({"type": "http.response.body", "body": big[start : start + 65536], "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with live(flood) as url, Target(url) as target:
        exchange = target.send(url, PAYLOAD)
    assert exchange.status == 200
    assert len(exchange.body) == MAX_REPLY_BYTES + 1
    assert "only the first" in exchange.detail


def test_a_url_reply_ends_at_the_deadline_even_between_chunks(live: Any) -> None:
    """Each chunk comes within the timeout of the last, but the reply as a whole is late: the
    watchdog ends the read at the deadline, before the app's next chunk (not at it)."""
    order: list[str] = []

    async def dribble(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/xml")]}
        )
        await send({"type": "http.response.body", "body": b"<Response>", "more_body": True})
        await asyncio.sleep(1.5)  # within the 2 s timeout of the first chunk
        await send({"type": "http.response.body", "body": b"<!-- -->", "more_body": True})
        await asyncio.sleep(1.7)  # the deadline passes during this wait
        order.append("next chunk")
        await send({"type": "http.response.body", "body": b"</Response>"})

    with live(dribble) as url, Target(url, callback_timeout=2.0) as target:
        exchange = target.send(url, PAYLOAD)
        order.append("timed out")
        time.sleep(2.0)  # the app finishes its schedule
    assert exchange.error == "timeout"
    assert order == ["timed out", "next chunk"]


def _trickle_after(quick: int) -> tuple[Any, int]:
    """Send ``quick`` webhooks that are answered at once on one kept-alive connection, then one
    whose status line comes a byte every 0.4 s; the last exchange and the bytes it got."""
    listener = socket.create_server(("127.0.0.1", 0))
    sent: list[float] = []
    done = threading.Event()

    def read_request(connection: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))
        while len(body) < length:
            body += connection.recv(65536)

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            for _ in range(quick):
                read_request(connection)
                connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
            read_request(connection)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                if done.is_set():
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up
                sent.append(time.monotonic())
                time.sleep(0.4)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/answer"
    try:
        with Target(url, callback_timeout=1.0) as target:
            for _ in range(quick):
                assert target.send(url, PAYLOAD).status == 204
                time.sleep(0.1)  # the watchdog still sleeps towards this reply's deadline
            exchange = target.send(url, PAYLOAD)
        bytes_sent = len(sent)
    finally:
        done.set()
        server.join(10)
        listener.close()
    return exchange, bytes_sent


@pytest.mark.parametrize("quick", [0, 3])
def test_a_url_reply_whose_status_line_trickles_ends_at_the_deadline(quick: int) -> None:
    """A byte of the status line every 0.4 s keeps every read within the 1 s timeout, yet the
    exchange as a whole is late: it ends at the deadline, long before the headers would be in,
    also after replies whose deadlines the watchdog was still sleeping towards."""
    exchange, bytes_sent = _trickle_after(quick)
    assert exchange.error == "timeout"
    assert bytes_sent < 10  # of 40: it did not wait for the whole status line and headers
