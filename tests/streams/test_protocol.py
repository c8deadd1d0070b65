"""The wire protocol's checks: a well-formed stream passes, each kind of break is named."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.streams import audio
from conformance.streams.protocol import check_app_message, check_platform_stream, play_audio


def _start(tracks: tuple[str, ...] = ("inbound",), params: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "eventType": "start",
        "metadata": {
            "accountId": "9900000",
            "callId": "c-1",
            "streamId": "s-1",
            "streamName": "agent",
            "tracks": [
                {"name": t, "mediaFormat": {"encoding": "audio/PCMU", "sampleRate": 8000}} for t in tracks
            ],
        },
        "streamParams": params or {},
    }


def _media(track: str = "inbound", data: bytes = b"\xff" * 160) -> dict[str, Any]:
    return {"eventType": "media", "track": track, "payload": base64.b64encode(data).decode()}


STOP: dict[str, Any] = {"eventType": "stop"}


def _reasons(*messages: dict[str, Any] | str | bytes, **options: Any) -> list[str]:
    raw = [m if isinstance(m, str | bytes) else json.dumps(m) for m in messages]
    return [p.reason for p in check_platform_stream(raw, **options)]


def test_a_well_formed_stream_has_no_problem() -> None:
    both = ("inbound", "outbound")
    frames = [_media(t) for _ in range(5) for t in both]
    assert (
        _reasons(
            _start(both, {"a": "1"}),
            *frames,
            _media("inbound", b"\x00" * 40),
            STOP,
            expected_params={"a": "1"},
        )
        == []
    )


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ((_media(), _start(), STOP), "start-not-first"),
        ((_start(), _start(), STOP), "duplicate-start"),
        ((_start(), STOP, _media()), "after-stop"),
        ((_start(), _media()), "no-stop"),
        ((_start(), _media("outbound"), STOP), "bad-track"),
        ((_start(), {"eventType": "media", "track": "inbound", "payload": "%%%"}, STOP), "bad-payload"),
        ((_start(), _media(data=b"\xff" * 8001), STOP), "frame-size"),
        ((_start(), _media(data=b"\xff" * 160), _media(data=b"\xff" * 80), _media(), STOP), "cadence"),
        ((_start(("inbound", "outbound")), *[_media()] * 4, STOP), "tracks-apart"),
        ((_start(), "not json", STOP), "not-json"),
        ((_start(), b"\x00\x01", STOP), "not-json"),
        ((_start(), {"eventType": "dtmf"}, STOP), "unknown-event"),
        (({"eventType": "start", "metadata": {"callId": "c"}}, STOP), "bad-start"),
    ],
)
def test_each_break_is_named(messages: tuple[Any, ...], reason: str) -> None:
    assert reason in _reasons(*messages)


def test_params_must_be_the_documents() -> None:
    assert _reasons(_start(params={"a": "1"}), STOP, expected_params={"a": "2"}) == ["bad-start"]
    assert _reasons(_start(), STOP, closed_by_platform=False) == []
    assert _reasons(_start(), closed_by_platform=False) == []


def test_transcription_streams_have_their_own_start_and_messages() -> None:
    start = {
        "eventType": "start",
        "metadata": {
            "accountId": "1",
            "callId": "c",
            "realTimeTranscriptionId": "t-1",
            "transcriptionName": "live",
            "tracks": ["inbound"],
        },
        "customParams": {"agent": "7"},
    }
    said = {
        "eventType": "transcription",
        "track": "inbound",
        "transcript": "hi",
        "isPartial": False,
        "items": [],
    }
    assert _reasons(start, said, STOP, expected_params={"agent": "7"}) == []
    assert _reasons(start, {**said, "isPartial": "no"}, STOP) == ["bad-transcription"]
    assert _reasons(start, _media(), STOP) == ["unknown-event"]


def test_app_messages() -> None:
    assert check_app_message(play_audio(audio.dtmf("1"))) is None
    assert check_app_message('{"eventType": "clear"}') is None
    bad = [
        b"binary",
        "[]",
        '{"eventType": "speak"}',
        '{"eventType": "playAudio"}',
        '{"eventType": "playAudio", "media": {"contentType": "audio/wav", "payload": "AAAA"}}',
        '{"eventType": "playAudio", "media": {"contentType": "audio/pcmu", "payload": ""}}',
        '{"eventType": "playAudio", "media": {"contentType": "audio/pcmu", "payload": "AA!A"}}',
        play_audio(b"\xff" * 80_001),
    ]
    assert all(check_app_message(message) is not None for message in bad)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=30),
            st.binary(max_size=30),
            st.dictionaries(
                st.text(max_size=8), st.none() | st.text(max_size=8) | st.integers(), max_size=4
            ).map(json.dumps),
        ),
        max_size=6,
    )
)
def test_any_frames_give_problems_never_an_exception(frames: list[str | bytes]) -> None:
    for problem in check_platform_stream(frames):
        assert problem.reason
    for frame in frames:
        check_app_message(frame)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-32768, 32767), max_size=200))
def test_mu_law_round_trip_is_within_a_quantisation_step(samples: list[int]) -> None:
    back = audio.ulaw_decode(audio.ulaw_encode(samples))
    for before, after in zip(samples, back, strict=True):
        assert abs(before - after) <= max(8, abs(before) // 16)


def test_mu_law_reference_points_and_tones() -> None:
    assert audio.ulaw_decode(bytes([0xFF, 0x7F, 0x00, 0x80])) == [0, 0, -32124, 32124]
    assert audio.ulaw_encode([0]) == bytes([audio.SILENCE_BYTE]) == b"\xff"
    tone = audio.tones([1000], 0.1)
    assert audio.tone_share(tone, 1000) > 0.9 > 0.01 > audio.tone_share(tone, 1500)
    assert audio.pair_share(audio.silence(0.2) + audio.dtmf("7"), audio.DTMF_FREQUENCIES["7"]) > 0.4
    assert audio.pair_share(audio.dtmf("7"), audio.DTMF_FREQUENCIES["8"]) < 0.05
    with pytest.raises(ValueError, match="not a DTMF digit"):
        audio.dtmf("x")
