"""Retention: ended calls, recordings and conferences expire like on the real platform, with a cap.

The store is driven by a clock the tests move by hand (simulated days pass at once); the REST
layer is checked through a running simulator whose virtual clock jumps ahead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conformance.errors import ConfigurationError
from conformance.simulator import SimulatorConfig
from conformance.simulator.models import RealTimeTranscription
from conformance.simulator.store import (
    CALL_RETENTION_SECONDS,
    RECORDING_RETENTION_SECONDS,
    RequestRecord,
    Store,
)

from .conftest import ACCOUNT, seed_call, seed_recording

DAY = timedelta(days=1)


class MovableClock:
    def __init__(self) -> None:
        self.value = datetime(2026, 3, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.value


def _end(store: Store, call_id: str) -> None:
    store.update_call(call_id, state="disconnected", end_time=store.now(), disconnect_cause="hangup")


def test_an_ended_call_is_kept_seven_days_after_it_ended() -> None:
    clock = MovableClock()
    store = Store(clock)
    call = seed_call(store)
    clock.value += 30 * DAY  # a live call is never forgotten, however old
    assert store.call(call.call_id) is call
    _end(store, call.call_id)
    clock.value += timedelta(seconds=CALL_RETENTION_SECONDS - 1)
    assert store.call(call.call_id) is call
    assert [c.call_id for c in store.calls_of(ACCOUNT)] == [call.call_id]
    clock.value += timedelta(seconds=1)
    assert store.call(call.call_id) is None
    assert list(store.calls_of(ACCOUNT)) == []
    assert call.call_id not in store.calls


def test_recordings_outlive_their_call_and_go_after_thirty_days() -> None:
    clock = MovableClock()
    store = Store(clock)
    call = seed_call(store)
    recording = seed_recording(store, call, media=b"\0" * 100)
    _end(store, call.call_id)
    clock.value += 8 * DAY
    assert store.call(call.call_id) is None
    assert store.recording(recording.recording_id) is recording
    assert recording.end_time is not None
    clock.value = recording.end_time + timedelta(seconds=RECORDING_RETENTION_SECONDS)
    assert store.recording(recording.recording_id) is None
    assert list(store.recordings_of_account(ACCOUNT)) == []


def test_the_cap_forgets_the_oldest_ended_calls_first_and_never_a_live_one() -> None:
    clock = MovableClock()
    store = Store(clock, max_ended_calls=3)
    live = seed_call(store)
    ended = []
    for _ in range(5):
        call = seed_call(store)
        clock.value += timedelta(seconds=1)
        _end(store, call.call_id)
        ended.append(call.call_id)
    seed_call(store)  # records are forgotten when the next one comes
    kept = [c.call_id for c in store.calls_of(ACCOUNT)]
    assert live.call_id in kept
    assert [c for c in kept if c in ended] == ended[-3:]
    assert store.active_call_count(ACCOUNT) == 2


def test_counts_and_lists_follow_one_account_only() -> None:
    clock = MovableClock()
    store = Store(clock)
    mine = [seed_call(store, state="queued") for _ in range(3)]
    theirs = [seed_call(store, account="9900001", state="queued") for _ in range(2)]
    store.update_call(mine[0].call_id, state="initiated")
    _end(store, theirs[0].call_id)
    assert store.queued_call_count(ACCOUNT) == 2
    assert store.active_call_count(ACCOUNT) == 3
    assert store.active_call_count("9900001") == 1
    assert [c.call_id for c in store.calls_of("9900001")] == [c.call_id for c in theirs]
    store.calls.pop(mine[1].call_id)  # taken out directly, as a failed createCall does
    assert store.active_call_count(ACCOUNT) == 2
    assert mine[1] not in list(store.calls_of(ACCOUNT))


def test_forgetting_a_call_forgets_its_real_time_transcriptions() -> None:
    clock = MovableClock()
    store = Store(clock, max_ended_calls=0)
    call = seed_call(store)
    other = seed_call(store)
    for owner in (call, other):
        store.add_realtime_transcription(
            RealTimeTranscription(ACCOUNT, owner.call_id, store.new_transcription_id(), "t")
        )
    _end(store, call.call_id)
    store.expire()
    assert store.call(call.call_id) is None
    assert [t.call_id for t in store.realtime_transcriptions.values()] == [other.call_id]


def test_recording_media_is_bounded_in_bytes() -> None:
    clock = MovableClock()
    store = Store(clock, max_recording_bytes=250)
    call = seed_call(store)
    recordings = [seed_recording(store, call, media=b"\0" * 100) for _ in range(4)]
    kept = [r.recording_id for r in store.recordings_of_call(call.call_id)]
    assert kept == [r.recording_id for r in recordings[-2:]]


def test_completed_conferences_expire() -> None:
    clock = MovableClock()
    store = Store(clock)
    conference = store.add_conference(ACCOUNT, "room")
    store.complete_conference(conference)
    clock.value += 6 * DAY
    assert store.conference(conference.id) is conference
    clock.value += 2 * DAY
    assert store.conference(conference.id) is None


def test_the_request_log_keeps_bounded_texts() -> None:
    store = Store(MovableClock(), log_size=2)
    now = store.now()
    for _ in range(3):
        store.log_request(RequestRecord(0, now, "GET", "/x" * 100_000, 404, description="d" * 100_000))
    assert len(store.requests) == 2
    assert all(len(r.path) <= 4096 and len(r.description or "") <= 4096 for r in store.requests)


def test_the_cap_is_a_setting() -> None:
    assert SimulatorConfig().max_ended_calls == 10_000
    for bad in (-1, 10_000_001, True, 2.5):
        with pytest.raises(ConfigurationError):
            SimulatorConfig(max_ended_calls=bad)  # type: ignore[arg-type]
