"""The stream sink: scopes, records, protocol checks, echo, refusals, and webhooks against sockets."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from conformance.errors import ConfigurationError
from conformance.streams import audio
from conformance.streams.protocol import check_app_message, decode_payload
from conformance.streams.sink import StreamProblems, StreamSink, StreamTimeout, check_stream_webhooks

from .test_protocol import STOP, _media, _start


@pytest.fixture(scope="module")
def sink() -> Iterator[StreamSink]:
    with StreamSink() as running:
        yield running
        running.check()


async def _play(url: str, messages: Sequence[Any], *, auth: str | None = None) -> list[str | bytes]:
    """Be the platform: send ``messages``, close, and return what the sink sent back."""
    headers = {"Authorization": auth} if auth else {}
    replies: list[str | bytes] = []
    async with connect(url, proxy=None, additional_headers=headers) as socket:
        for message in messages:
            await socket.send(message if isinstance(message, str | bytes) else json.dumps(message))
        await asyncio.sleep(0.05)  # let echoes arrive before the close
        await socket.close()
        replies.extend([m async for m in socket])
    return replies


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_stream_is_recorded_in_its_scope_and_passes(sink: StreamSink) -> None:
    scope, other = sink.scope("test one"), sink.scope("other")
    tone = audio.dtmf("5") + audio.silence(0.04)  # 1,600 bytes: ten frames
    frames = [_media("inbound", tone[i : i + 160]) for i in range(0, 1600, 160)]
    asyncio.run(
        _play(scope.url("agent?x=1"), [_start(params={"k": "v"}), *frames, STOP], auth=_basic("app", "pw"))
    )
    (session,) = scope.wait_closed(1, timeout=5)
    assert other.sessions == []
    assert (session.rest, session.auth, session.closed_by) == ("agent", ("app", "pw"), "platform")
    assert session.tracks == ("inbound",)
    assert session.metadata["streamId"] == "s-1"
    assert session.events() == ["start", *["media"] * 10, "stop"]
    assert session.audio("inbound") == tone
    scope.check({"k": "v"})
    with pytest.raises(StreamProblems, match="streamParams"):
        scope.check({"k": "other"})


def test_a_broken_stream_fails_check_naming_the_break(sink: StreamSink) -> None:
    scope = sink.scope("broken")
    asyncio.run(_play(scope.url("x"), [_media(), _start()]))
    scope.wait_closed(1, timeout=5)
    with pytest.raises(StreamProblems) as caught:
        scope.check()
    assert {p.reason for p in caught.value.problems} == {
        "start-not-first",
        "bad-track",
        "duplicate-start",
        "no-stop",
    }


def test_echo_sends_the_first_tracks_frames_back_as_play_audio(sink: StreamSink) -> None:
    scope = sink.scope("echo").set_echo()
    both = ("outbound", "inbound")
    replies = asyncio.run(
        _play(
            scope.url(),
            [_start(both), _media("outbound", b"\x01" * 160), _media("inbound", b"\x02" * 160), STOP],
        )
    )
    assert len(replies) == 1
    assert check_app_message(replies[0]) is None
    assert decode_payload(json.loads(replies[0])["media"]["payload"]) == b"\x01" * 160
    (session,) = scope.wait_closed(1, timeout=5)
    assert session.sent == replies


def test_echo_keeps_reading_to_the_stop_when_the_platform_closes_at_once(sink: StreamSink) -> None:
    # The platform sends its last frames, stop and its close frame in one burst: the echo of a frame
    # then meets a closing socket, and the sink must still read what was sent before the close
    # (seen under load: a stop lost on the sink's side was reported as the platform's fault).
    scope = sink.scope("echo-burst").set_echo()
    frames = [_media("inbound", bytes([i]) * 160) for i in range(40)]

    async def burst() -> None:
        # the simulator reads every reply as it comes (max_queue=None: no flow control holds its close)
        async with connect(scope.url(), proxy=None, max_queue=None) as socket:
            for message in [_start(), *frames, STOP]:
                await socket.send(json.dumps(message))
            await socket.close()

    asyncio.run(burst())
    (session,) = scope.wait_closed(1, timeout=5)
    assert session.events() == ["start", *["media"] * 40, "stop"]
    assert session.closed_by == "platform"
    scope.check()


def test_refused_and_unknown_paths_fail_the_handshake(sink: StreamSink) -> None:
    scope = sink.scope("refuse").refuse(403)
    for url, status in (
        (scope.url("a"), 403),
        (sink.local_url + "/s/nope/a", 404),
        (sink.local_url + "/", 404),
    ):
        with pytest.raises(InvalidStatus) as caught:
            asyncio.run(_play(url, []))
        assert caught.value.response.status_code == status
    assert scope.sessions == []


def test_the_sink_can_close_first_which_excuses_a_missing_stop(sink: StreamSink) -> None:
    scope = sink.scope("closer").close_after_messages(2)
    asyncio.run(_play(scope.url(), [_start(), _media(), _media(), _media()]))
    (session,) = scope.wait_closed(1, timeout=5)
    assert session.closed_by == "sink"
    assert session.close_code == 1000
    scope.check()


def test_waiting_for_nothing_times_out_saying_what_arrived(sink: StreamSink) -> None:
    scope = sink.scope("quiet")
    with pytest.raises(StreamTimeout, match="nothing"):
        scope.wait_for_sessions(1, timeout=0.1)


def test_bad_public_url_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        StreamSink(public_base_url="http://example.net")
    with pytest.raises(ConfigurationError):
        _ = StreamSink().local_url


def _hook(event: str, stream_id: str = "s-1", name: str = "agent", call: str = "c-1") -> Any:
    payload = {"eventType": event, "callId": call, "mediaStream": {"id": stream_id, "name": name}}
    return SimpleNamespace(event_type=event, payload=payload)


def test_webhooks_are_held_against_the_sockets_life(sink: StreamSink) -> None:
    scope = sink.scope("hooks")
    asyncio.run(_play(scope.url(), [_start(), _media(), STOP]))
    (session,) = scope.wait_closed(1, timeout=5)
    good = [_hook("mediaStreamStarted"), _hook("mediaStreamStopped")]
    assert check_stream_webhooks(session, good) == []
    assert check_stream_webhooks(session, good[:1]) == [
        "0 mediaStreamStopped webhook(s) for one stream, not 1"
    ]
    assert any(
        "id" in m for m in check_stream_webhooks(session, [good[0], _hook("mediaStreamStopped", "s-2")])
    )
    assert any("Rejected" in m for m in check_stream_webhooks(session, [*good, _hook("mediaStreamRejected")]))
    assert check_stream_webhooks(None, [_hook("mediaStreamRejected")]) == []
    assert len(check_stream_webhooks(None, [_hook("mediaStreamStarted")])) == 2
