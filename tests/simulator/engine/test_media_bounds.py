"""PlayAudio from hostile media servers: huge, endless, slow and garbage files.

Every file is made on the fly by the scripted app's server (nothing big is written to disk).  The
call always goes on as for a file that cannot be played (zero seconds of silence) or plays the
file's real length, and another call's virtual time keeps going while a fetch is in flight.
Times are compared on the simulator's clock (webhook ``eventTime``), never on the wall clock.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from datetime import datetime

from werkzeug import Request, Response

from conformance.simulator.engine.media import MediaLimits

from .conftest import Harness

CHUNK = 1 << 20
BIG = 100 * CHUNK  # 100 MB


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _wav_header(data_bytes: int, rate: int = 8000) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def _played_seconds(harness: Harness, call_id: str) -> float:
    """Simulated seconds between the call's answer and its redirect (the PlayAudio between)."""
    answer = harness.app.wait_event("answer", callId=call_id)[0]
    redirect = harness.app.wait_event("redirect", callId=call_id)[0]
    return (_t(redirect.body["eventTime"]) - _t(answer.body["eventTime"])).total_seconds()


def _play_then_redirect(harness: Harness, media_path: str) -> str:
    harness.app.reply(
        "/play", f'<Response><PlayAudio>{media_path}</PlayAudio><Redirect redirectUrl="/after"/></Response>'
    )
    harness.app.reply("/after", "<Response><Hangup/></Response>")
    return harness.create_call(answer="/play")


class OtherCall:
    """An unrelated call, started once a fetch is in flight, that pauses an hour of simulated time.

    The media server calls :meth:`ended_meanwhile` in the middle of its answer: true when the other
    call's disconnect arrived while this fetch was still going on.
    """

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.fetching = threading.Event()
        self.done = threading.Event()
        self.seen: list[bool] = []
        self.call_id = ""
        harness.app.reply("/other", '<Response><Pause duration="3600"/><Hangup/></Response>')

    def start_when_fetching(self) -> None:
        assert self.fetching.wait(10), "the media was never fetched"
        self.call_id = self.harness.create_call(answer="/other")
        self.harness.app.wait_event("disconnect", timeout=20, callId=self.call_id)
        self.done.set()

    def played_after(self, call_id: str) -> float:
        """Simulated seconds from the other call's end to ``call_id``'s redirect."""
        ended = self.harness.app.wait_event("disconnect", callId=self.call_id)[0].body["eventTime"]
        redirect = self.harness.app.wait_event("redirect", callId=call_id)[0].body["eventTime"]
        return (_t(redirect) - _t(ended)).total_seconds()

    def ended_meanwhile(self) -> None:
        self.fetching.set()
        self.seen.append(self.done.wait(20))


def test_a_100_mb_file_plays_its_length_while_other_calls_go_on(harness: Harness) -> None:
    other = OtherCall(harness)  # the default limits: the fetch holds the clock for 1 s at most

    def big(_: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield _wav_header(BIG)
            for index in range(BIG // CHUNK):
                if index == 1:  # early in the transfer...
                    other.ended_meanwhile()
                yield bytes(CHUNK)

        headers = {"Content-Length": str(44 + BIG)}
        return Response(body(), content_type="audio/wav", headers=headers, direct_passthrough=True)

    harness.app.reply("/big.wav", big)
    call_id = _play_then_redirect(harness, "/big.wav")
    other.start_when_fetching()
    harness.wait_ended(call_id, timeout=30)
    assert other.seen == [True]  # ...the other call's hour had passed: the fetch held no one
    # The audio starts once it is fetched, after the other call's hour, and plays the file's whole
    # 6553.6 s (8 kHz 16-bit), although only its first hour is decoded.
    assert other.played_after(call_id) == BIG / 16000


def test_an_endless_stream_is_cut_at_the_size_limit_and_plays_nothing(harness: Harness) -> None:
    harness.engine.audio_cache.limits = MediaLimits(max_bytes=4 * CHUNK, deadline=30.0, hold=0.0)
    other = OtherCall(harness)

    def endless(_: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield _wav_header(0xFFFFFF00)
            other.ended_meanwhile()
            while True:
                yield bytes(CHUNK)

        return Response(body(), content_type="audio/wav", direct_passthrough=True)

    harness.app.reply("/radio.wav", endless)
    call_id = _play_then_redirect(harness, "/radio.wav")
    other.start_when_fetching()
    harness.wait_ended(call_id, timeout=30)
    assert other.seen == [True]
    assert other.played_after(call_id) == 0.0  # after the other call's hour: nothing


def test_a_slow_stream_is_abandoned_at_the_deadline(harness: Harness) -> None:
    harness.engine.audio_cache.limits = MediaLimits(deadline=0.5, hold=0.0)
    release = threading.Event()

    def slow(_: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield _wav_header(16000)
            release.wait(10)  # a byte now and then, or nothing at all
            yield bytes(16000)

        return Response(body(), content_type="audio/wav", direct_passthrough=True)

    harness.app.reply("/slow.wav", slow)
    call_id = _play_then_redirect(harness, "/slow.wav")
    try:
        harness.wait_ended(call_id, timeout=10)
    finally:
        release.set()
    assert _played_seconds(harness, call_id) == 0.0


def test_a_declared_size_over_the_limit_is_not_downloaded(harness: Harness) -> None:
    harness.engine.audio_cache.limits = MediaLimits(max_bytes=CHUNK)
    sent: list[int] = []

    def huge(_: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield _wav_header(300 * CHUNK)
            for _ in range(300):
                sent.append(CHUNK)
                yield bytes(CHUNK)

        headers = {"Content-Length": str(44 + 300 * CHUNK)}
        return Response(body(), content_type="audio/wav", headers=headers, direct_passthrough=True)

    harness.app.reply("/huge.wav", huge)
    call_id = _play_then_redirect(harness, "/huge.wav")
    harness.wait_ended(call_id)
    assert _played_seconds(harness, call_id) == 0.0
    assert sum(sent) < 300 * CHUNK


def test_garbage_audio_plays_nothing_and_the_call_goes_on(harness: Harness) -> None:
    noise = bytes(range(256)) * 4096 + b"\xff" * CHUNK
    harness.app.reply("/noise.mp3", lambda _: Response(noise, content_type="audio/mpeg"))
    harness.app.reply(
        "/noise.wav", lambda _: Response(b"RIFF\xff\xff\xff\xffWAVE" + noise, content_type="audio/wav")
    )
    for path in ("/noise.mp3", "/noise.wav"):
        call_id = _play_then_redirect(harness, path)
        harness.wait_ended(call_id)
        assert _played_seconds(harness, call_id) == 0.0, path


def test_a_cached_file_is_fetched_once_and_a_big_one_is_not_cached(harness: Harness) -> None:
    small, large = _wav_header(1600) + bytes(1600), _wav_header(8000 * 2 * 10) + bytes(8000 * 2 * 10)
    fetched: list[str] = []

    def serve(body: bytes, name: str) -> object:
        def handler(_: Request) -> Response:
            fetched.append(name)
            return Response(body, content_type="audio/wav", headers={"Cache-Control": "max-age=600"})

        return handler

    harness.engine.audio_cache.max_bytes = 100_000  # the 10 s file's samples (160 KB) do not fit
    harness.app.reply("/small.wav", serve(small, "small"))  # type: ignore[arg-type]
    harness.app.reply("/large.wav", serve(large, "large"))  # type: ignore[arg-type]
    harness.app.reply(
        "/twice",
        "<Response><PlayAudio>/small.wav</PlayAudio><PlayAudio>/small.wav</PlayAudio>"
        "<PlayAudio>/large.wav</PlayAudio><PlayAudio>/large.wav</PlayAudio></Response>",
    )
    harness.wait_ended(harness.create_call(answer="/twice"))
    assert fetched == ["small", "large", "large"]
    assert harness.engine.audio_cache.total <= 100_000


def test_fetches_together_stay_within_their_byte_budget(harness: Harness) -> None:
    cache = harness.engine.audio_cache
    cache.limits = MediaLimits(in_flight_bytes=3 * CHUNK)
    file = _wav_header(4 * CHUNK) + bytes(4 * CHUNK)
    harness.app.reply("/four.wav", lambda _: Response(file, content_type="audio/wav"))
    call_id = _play_then_redirect(harness, "/four.wav")
    harness.wait_ended(call_id)
    assert _played_seconds(harness, call_id) == 0.0  # 4 MB alone is over the 3 MB budget
    assert cache.in_flight == 0  # an abandoned fetch gives its bytes back
    cache.limits = MediaLimits(in_flight_bytes=5 * CHUNK)
    call_id = _play_then_redirect(harness, "/four.wav")
    harness.wait_ended(call_id)
    assert _played_seconds(harness, call_id) == 4 * CHUNK / 16000
    assert cache.in_flight == 0
