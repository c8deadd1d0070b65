"""The webhook client on its own: framing, keep-alive, caps, one deadline, named failures only.

:meth:`Deliverer.send` either returns the app's 2xx reply, read whole, or raises
:class:`DeliveryError`; nothing else (a bad URL, text UTF-8 cannot encode, a broken reply) escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.simulator.clock import VirtualClock
from conformance.simulator.egress import EgressPolicy
from conformance.simulator.engine.delivery import Deliverer, DeliveryError, Reply, Target
from conformance.simulator.engine.documents import InvalidBxml

from .faults_app import HANGUP, FaultApp

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
PAYLOAD = {"eventType": "answer", "callId": "c-1", "tag": "t"}


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultApp]:
    with FaultApp() as app:
        yield app


async def _send(
    url: str, *, timeout: float = 2.0, max_reply_bytes: int | None = None, **target: Any
) -> Reply:
    deliverer = Deliverer(VirtualClock())
    if max_reply_bytes is not None:
        deliverer.max_reply_bytes = max_reply_bytes
    try:
        return await deliverer.send(Target(url, **target), PAYLOAD, timeout=timeout)
    finally:
        await deliverer.aclose()


def _failure(url: str, **kwargs: Any) -> str:
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(_send(url, **kwargs))
    return str(caught.value)


@pytest.mark.parametrize("path", ["/hangup", "/pieces", "/chunked"])
def test_replies_are_read_whole_whatever_their_framing(faults: FaultApp, path: str) -> None:
    reply = asyncio.run(_send(faults.url(path)))
    assert (reply.status, reply.raw, reply.body) == (200, HANGUP, HANGUP.decode())


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/slow-head", "no answer within 0.5 s"),
        ("/slow-body", "no answer within 0.5 s"),
        ("/endless", "no answer within 0.5 s"),  # one deadline for the whole reply, not per read
        ("/oversized", "larger than 1048576 bytes"),
        ("/reset", "/reset"),
        ("/reset-mid", "/reset-mid"),
        ("/redirect", "HTTP 302"),
        ("/missing", "HTTP 404"),
        ("/broken", "HTTP 500"),
    ],
)
def test_each_failure_is_a_delivery_error_with_its_reason(faults: FaultApp, path: str, message: str) -> None:
    assert message in _failure(faults.url(path), timeout=0.5)


def test_a_body_over_the_cap_is_refused_while_it_streams(faults: FaultApp) -> None:
    assert "larger than 200000 bytes" in _failure(faults.url("/flood"), max_reply_bytes=200_000, timeout=30)


def test_a_failing_primary_falls_back_and_a_refused_connection_is_tried_twice(faults: FaultApp) -> None:
    reply = asyncio.run(_send(faults.url("/reset"), fallback_url=faults.url("/chunked")))
    assert reply.raw == HANGUP
    refused = faults.refused_url()

    async def twice() -> Deliverer:
        deliverer = Deliverer(VirtualClock())
        try:
            with contextlib.suppress(DeliveryError):
                await deliverer.send(Target(refused), PAYLOAD, timeout=2, retry_connection_errors=True)
        finally:
            await deliverer.aclose()
        return deliverer

    assert asyncio.run(twice()).attempts[refused] == 2


def test_the_body_decodes_as_the_validator_decodes(faults: FaultApp) -> None:
    reply = asyncio.run(_send(faults.url("/bad-utf8")))
    with pytest.raises(InvalidBxml, match="not valid UTF-8"):
        _ = reply.body
    latin = Reply(200, "café".encode("latin-1"), "application/xml; charset=iso-8859-1", "http://x/")
    with pytest.raises(InvalidBxml):  # the declared charset does not make it BXML
        _ = latin.body


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))


def test_a_keep_alive_connection_the_app_closed_is_replaced_once() -> None:
    """The second request finds its pooled connection closed unanswered: sent again, on a new one."""
    served: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = len(served)
        served.append(number)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            if number == 0:
                await _read_request(reader)  # the second request arrives on the idle connection ...
        writer.close()  # ... and is dropped unanswered, as an app closing idle connections does

    async def main() -> list[bytes]:
        server, url = await _serve(handler)
        deliverer = Deliverer(VirtualClock())
        try:
            return [(await deliverer.send(Target(url), PAYLOAD, timeout=5)).raw for _ in range(2)]
        finally:
            await deliverer.aclose()
            server.close()

    assert asyncio.run(main()) == [b"ok", b"ok"]
    assert served == [0, 1]


def test_a_new_connection_closed_unanswered_is_not_sent_again() -> None:
    connections: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await _read_request(reader)
        writer.close()

    async def main() -> None:
        server, url = await _serve(handler)
        try:
            await _send(url)
        finally:
            server.close()

    with pytest.raises(DeliveryError, match="closed"):
        asyncio.run(main())
    assert connections == [1]


def _replying(head: bytes, body: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await _read_request(reader)
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
        writer.close()

    return handler


async def _send_to(handler: Handler, *, max_reply_bytes: int | None = None) -> Reply:
    server, url = await _serve(handler)
    try:
        return await _send(url, max_reply_bytes=max_reply_bytes)
    finally:
        server.close()


def test_a_gzipped_reply_is_decompressed_and_its_decompressed_size_capped() -> None:
    gzipped = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Encoding: gzip\r\n"
    reply = asyncio.run(_send_to(_replying(gzipped, gzip.compress(HANGUP))))
    assert reply.raw == HANGUP
    bomb = gzip.compress(b"<Response>" + b" " * 300_000 + b"</Response>")  # ~300 bytes on the wire
    with pytest.raises(DeliveryError, match="larger than 200000 bytes"):
        asyncio.run(_send_to(_replying(gzipped, bomb), max_reply_bytes=200_000))


def test_a_changed_egress_policy_applies_to_a_url_already_sent_to() -> None:
    """The egress verdict kept per URL is the current policy's, not the one of the first send."""

    async def main() -> tuple[str, bytes]:
        server, url = await _serve(_replying(b"HTTP/1.1 200 OK\r\n", b"ok"))
        other = url.replace("127.0.0.1", "0.0.0.0")  # this machine, but not a loopback address
        deliverer = Deliverer(VirtualClock())
        try:
            with pytest.raises(DeliveryError) as refused:
                await deliverer.send(Target(other), PAYLOAD, timeout=5)
            deliverer.egress = EgressPolicy("any")
            return str(refused.value), (await deliverer.send(Target(other), PAYLOAD, timeout=5)).raw
        finally:
            await deliverer.aclose()
            server.close()

    refusal, raw = asyncio.run(main())
    assert "only to loopback hosts" in refusal
    assert raw == b"ok"


_URLS = st.one_of(
    st.sampled_from(
        [
            "http://127.0.0.1:70000/a",
            "http://127.0.0.1:-1/a",
            "http://127.0.0.1:abc/a",
            "http://[::1/a",
            "http:///a",
            "ftp://127.0.0.1/a",
            "http://127.0.0.1:0/a",
            "https://0.com/a",
            "",
        ]
    ),
    st.text(max_size=30).map(lambda path: f"http://127.0.0.1:70000/{path}"),
    st.text(max_size=30),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_URLS, st.sampled_from(["GET", "POST"]), st.text(max_size=20), st.text(max_size=8))
def test_no_url_or_payload_makes_send_raise_anything_but_delivery_error(
    url: str, method: Any, text: str, user: str
) -> None:
    target = Target(url, method, username=user or None, password=text, fallback_url=url or None)

    async def main() -> None:
        deliverer = Deliverer(VirtualClock())
        try:
            payload = {**PAYLOAD, "tag": text}
            with contextlib.suppress(DeliveryError):
                await deliverer.send(target, payload, timeout=1, retry_connection_errors=True)
        finally:
            await deliverer.aclose()

    asyncio.run(main())
