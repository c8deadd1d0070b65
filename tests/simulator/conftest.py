"""Fixtures for the simulator's REST tests: a running simulator, clients, seeded records."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from conformance.simulator import Simulator
from conformance.simulator.lifecycle import LifecycleEngine
from conformance.simulator.models import (
    Call,
    Callback,
    Conference,
    ConferenceMember,
    RealTimeTranscription,
    Recording,
    Transcription,
)
from conformance.simulator.store import Store

ACCOUNT = "9900000"
OTHER = "9900001"
APP = "11111111-1111-4111-8111-111111111111"
AUTH = ("bw-user", "bw-pass")
OTHER_AUTH = ("bw-other", "bw-other-pass")
FROM = "+19195550100"
TO = "+19195550101"


def create_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "to": TO,
        "from": FROM,
        "applicationId": APP,
        "answerUrl": "https://example.test/answer",
    }
    body.update(overrides)
    return body


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


class RecordingEngine:
    """A CallEngine that does nothing but remember what it was asked (and can refuse)."""

    def __init__(self, store: Store, clock: Any) -> None:
        self.store = store
        self.clock = clock
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith(("call_", "conference_", "member_", "recording_", "transcription_")):

            def record(*args: Any) -> None:
                self.calls.append((name, args))

            return record
        raise AttributeError(name)


def seed_call(store: Store, *, account: str = ACCOUNT, state: str = "answered", **fields: Any) -> Call:
    now = store.now()
    call = Call(
        account_id=account,
        call_id=store.new_call_id(),
        application_id=APP,
        to=fields.pop("to", TO),
        from_=fields.pop("from_", FROM),
        direction="outbound",
        state=state,
        start_time=fields.pop("start_time", now),
        answer_time=now if state in ("answered", "disconnected") else None,
        end_time=now if state == "disconnected" else None,
        disconnect_cause="hangup" if state == "disconnected" else None,
        answer=Callback(url="https://example.test/answer"),
        **fields,
    )
    return store.add_call(call)


def seed_recording(store: Store, call: Call, *, media: bytes | None = None, fmt: str = "wav") -> Recording:
    now = store.now()
    rec = Recording(
        account_id=call.account_id,
        recording_id=store.new_recording_id(),
        call_id=call.call_id,
        application_id=call.application_id,
        to=call.to,
        from_=call.from_,
        direction=call.direction,
        name="greeting",
        start_time=now - timedelta(seconds=2),
        end_time=now,
        duration_seconds=2.0,
        file_format="wav" if fmt == "wav" else "mp3",
        status="complete",
        media=wav_bytes() if media is None else media,
    )
    return store.add_recording(rec)


def seed_conference(store: Store, call: Call, *, name: str = "standup") -> tuple[Conference, Recording]:
    conf = store.add_conference(call.account_id, name)
    conf.event = Callback(url="https://example.test/conference")
    store.add_member(conf, ConferenceMember(call_id=call.call_id, conference_id=conf.id))
    now = store.now()
    rec = Recording(
        account_id=call.account_id,
        recording_id=store.new_recording_id(),
        call_id=None,
        conference_id=conf.id,
        name="conf-recording",
        start_time=now,
        end_time=now,
        duration_seconds=1.0,
        status="complete",
        media=wav_bytes(1.0),
    )
    store.add_recording(rec)
    return conf, rec


def seed_transcribed(store: Store, call: Call) -> Recording:
    rec = seed_recording(store, call)
    rec.transcription = Transcription(
        id=store.new_recording_transcription_id(),
        status="available",
        completed_time=datetime.now(UTC),
        text="hello there",
    )
    return rec


def seed_realtime(store: Store, call: Call) -> RealTimeTranscription:
    t = RealTimeTranscription(
        account_id=call.account_id,
        call_id=call.call_id,
        transcription_id=store.new_transcription_id(),
        name="live",
        tracks=[{"detectedLanguage": "en-US", "track": "inbound", "transcript": "hi", "confidence": 0.9}],
    )
    return store.add_realtime_transcription(t)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(engine_factory=LifecycleEngine) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def quiet_sim() -> Iterator[Simulator]:
    """A simulator whose engine only records what it is asked: state never moves on its own."""
    with Simulator(engine_factory=RecordingEngine) as simulator:
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=10) as c:
        yield c


@pytest.fixture
def quiet_client(quiet_sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=quiet_sim.base_url, auth=AUTH, timeout=10) as c:
        yield c
