"""The virtual clock, the mailbox, webhook delivery rules and the audio helpers, without a server."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from datetime import UTC, datetime

import pytest

from conformance.errors import ConfigurationError, ConformanceError
from conformance.simulator import clock as clock_module
from conformance.simulator import engine as engine_package
from conformance.simulator.clock import Mailbox, VirtualClock
from conformance.simulator.engine.delivery import DeliveryError, method_of, resolve
from conformance.simulator.engine.media import Sound, decode_audio, render, speech_seconds, wav_bytes
from conformance.simulator.engine.payloads import iso, iso_duration, shape
from conformance.simulator.engine.recording import silent_mp3


def test_public_names() -> None:
    assert engine_package.__all__ == ["Engine", "SentWebhook", "engine_factory"]
    assert {"Mailbox", "VirtualClock"} <= set(clock_module.__all__)


def test_virtual_sleep_jumps_and_keeps_order() -> None:
    async def main() -> tuple[list[tuple[str, float]], float]:
        clock = VirtualClock(start=datetime(2026, 1, 1, tzinfo=UTC))
        t0 = clock.time()
        seen: list[tuple[str, float]] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            seen.append((name, clock.time() - t0))

        await asyncio.gather(sleeper("long", 3600), sleeper("short", 60), sleeper("mid", 600))
        jumped = clock.jumped_seconds
        await clock.aclose()
        return seen, jumped

    seen, jumped = asyncio.run(main())
    assert seen == [("short", 60.0), ("mid", 600.0), ("long", 3600.0)]
    assert jumped == pytest.approx(3600.0)


def test_time_stands_still_while_busy() -> None:
    async def main() -> float:
        clock = VirtualClock()
        t0 = clock.time()
        done: list[float] = []

        async def sleeper() -> None:
            await clock.sleep(10)
            done.append(clock.time())

        task = asyncio.ensure_future(sleeper())
        with clock.busy():
            await asyncio.sleep(0.1)  # real activity: no jump may happen
            assert not done
            assert clock.time() == t0
        await task
        await clock.aclose()
        return done[0] - t0

    assert asyncio.run(main()) == pytest.approx(10.0)


def test_real_time_scale_and_switching() -> None:
    async def main() -> tuple[float, float]:
        clock = VirtualClock(time_scale=10.0)
        start = time.monotonic()
        await clock.sleep(2)  # 0.2 s of real time at ten times speed
        real = time.monotonic() - start
        clock.time_scale = None
        start = time.monotonic()
        await clock.sleep(3600)
        jumped = time.monotonic() - start
        await clock.aclose()
        return real, jumped

    real, jumped = asyncio.run(main())
    assert real >= 0.19
    assert jumped < real * 50  # bounded: an hour of virtual time did not take an hour


def test_time_scale_must_be_positive() -> None:
    with pytest.raises(ConfigurationError) as info:
        VirtualClock(time_scale=0)
    assert info.value.reason == "clock-time-scale"
    clock = VirtualClock()
    with pytest.raises(ConfigurationError):
        clock.time_scale = -1
    with pytest.raises(ConfigurationError):
        VirtualClock(start=datetime(2026, 1, 1))  # naive


def test_wait_for_times_out_in_virtual_time() -> None:
    async def main() -> tuple[str, float]:
        clock = VirtualClock()
        box: Mailbox[str] = Mailbox(clock)
        t0 = clock.time()

        async def later() -> None:
            await clock.sleep(5)
            box.put("late")

        clock.spawn(later())
        with pytest.raises(TimeoutError):
            await clock.wait_for(box.get(), 2)
        got = await clock.wait_for(box.get(), 10)
        elapsed = clock.time() - t0
        await clock.aclose()
        return got, elapsed

    got, elapsed = asyncio.run(main())
    assert got == "late"
    assert elapsed == pytest.approx(5.0)


def test_wait_for_leaves_the_clock_free_whichever_way_it_ends() -> None:
    """A wait that ends by its result, its timeout, no time at all or cancellation holds nothing."""

    async def main() -> list[int]:
        clock = VirtualClock()
        box: Mailbox[str] = Mailbox(clock)
        busy: list[int] = []
        box.put("ready")
        assert await clock.wait_for(box.get(), 5) == "ready"  # the result first
        busy.append(clock.busy_count)
        with pytest.raises(TimeoutError):
            await clock.wait_for(box.get(), 3)  # the timer first: fired, then released
        busy.append(clock.busy_count)
        box.put("now")
        assert await clock.wait_for(box.get(), 0) == "now"  # no time left, but a turn for the result
        with pytest.raises(TimeoutError):
            await clock.wait_for(box.get(), 0)
        busy.append(clock.busy_count)
        waiting = asyncio.ensure_future(clock.wait_for(box.get(), 60))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        busy.append(clock.busy_count)
        before = clock.jumped_seconds
        # Time still leaps: no hold was left behind (a real-time guard, so a leftover fails, not hangs).
        await asyncio.wait_for(clock.sleep(100), 10)
        busy.append(round(clock.jumped_seconds - before))
        await clock.aclose()
        return busy

    assert asyncio.run(main()) == [0, 0, 0, 0, 100]


def test_resolve_is_the_same_the_second_time_and_for_long_urls() -> None:
    long_path = "p/" * 3000
    for _ in range(2):  # the second time from the cache
        assert resolve("http://h/app/answer", " gather ") == "http://h/app/gather"
        assert resolve("http://h/app/answer", long_path) == "http://h/app/" + long_path
        assert resolve("http://h/other/answer", "gather") == "http://h/other/gather"
        assert resolve(None, "gather") == "gather"
        assert resolve("http://h/app/answer", "") is None


def test_delivery_helpers() -> None:
    assert resolve("http://h/app/answer", "gather") == "http://h/app/gather"
    assert resolve("http://h/app/answer", "/x") == "http://h/x"
    assert resolve("http://h/app/answer", "https://o/y") == "https://o/y"
    assert resolve(None, " ") is None
    assert method_of("get") == "GET"
    assert method_of(None) == "POST"
    error = DeliveryError("nope")
    assert isinstance(error, ConformanceError)
    assert isinstance(error, ConnectionError)
    assert error.reason == "callback-error"


def test_payload_shape_keeps_only_contract_fields() -> None:
    shaped = shape("dtmf", {"digit": "5", "callId": "c-1", "bogus": 1, "tag": None, "eventType": "x"})
    assert shaped == {"eventType": "dtmf", "digit": "5", "callId": "c-1"}
    assert iso_duration(13.67) == "PT13.67S"
    assert iso_duration(5) == "PT5S"
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    assert iso(datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == "2026-12-31T23:59:59.999Z"  # cut
    assert iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"  # no offset to drop
    assert iso(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000Z"  # four-digit year
    with pytest.raises(KeyError):
        shape("noSuchEvent", {})


def test_render_places_sounds_and_skips_paused_time() -> None:
    sounds = [Sound(1.0, 0.5, "dtmf", "5"), Sound(3.0, 1.0, "speech", "hello")]
    samples = render([(0.0, 2.0), (3.0, 3.5)], sounds)
    assert len(samples) == int(2.5 * 8000)
    assert not any(samples[:8000])
    assert any(samples[8000:12000])
    assert not any(samples[12000:16000])
    assert any(samples[16000:])


def test_decode_audio_formats() -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x01\x00" * 12000)
    info = decode_audio(out.getvalue(), "audio/wav", "x.wav")
    assert info.duration == pytest.approx(1.5)
    assert info.kind == "wav"
    assert decode_audio(silent_mp3(2.0), "audio/mpeg", "a.mp3").duration == pytest.approx(2.0, abs=0.08)
    assert decode_audio(b"garbage", "", "x").duration == 0.0
    assert speech_seconds("one two three") == pytest.approx(1.2)
    assert len(wav_bytes([render([(0, 1)], [])])) > 16000
