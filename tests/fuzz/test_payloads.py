"""Every generated payload validates against its event's schema and reads like a real one."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conformance.fuzz.scenarios import SCENARIOS, applicable, sequences
from conformance.fuzz.strategies import TIME_FIELDS, PatchChecker, payloads, raw_payloads, validator_for
from conformance.webhooks.events import catalogue

EXAMPLES = settings(
    max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
CALL_ID = re.compile(r"^c-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _times_in_order(payload: dict[str, Any]) -> list[datetime]:
    return [_when(payload[f]) for f in TIME_FIELDS if isinstance(payload.get(f), str)]


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_every_payload_matches_its_schema(name: str) -> None:
    event = catalogue()[name]
    validator = validator_for(event)

    @EXAMPLES
    @given(payloads(event))
    def check(payload: dict[str, Any]) -> None:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(payload)]
        assert not errors, errors
        assert payload["eventType"] == name
        times = _times_in_order(payload)
        assert times == sorted(times), payload
        if all(isinstance(payload.get(k), str) for k in ("callUrl", "callId", "accountId")):
            assert payload["callUrl"].endswith(f"/accounts/{payload['accountId']}/calls/{payload['callId']}")
        if isinstance(payload.get("callId"), str):
            assert CALL_ID.match(payload["callId"]), payload["callId"]

    check()


def test_optional_fields_are_generated_present_and_absent() -> None:
    seen: dict[str, set[bool]] = {}
    event = catalogue()["gather"]
    optional = set(event.properties) - set(event.required)

    @settings(max_examples=60, deadline=None, database=None)
    @given(payloads(event))
    def collect(payload: dict[str, Any]) -> None:
        for key in optional:
            seen.setdefault(key, set()).add(key in payload)

    collect()
    assert {key for key, states in seen.items() if states == {True, False}} == optional


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_sequences_share_one_call_and_move_forward_in_time(scenario: Any) -> None:
    events = catalogue()
    checkers = {name: validator_for(events[name]) for name in scenario.events() if name in events}

    @EXAMPLES
    @given(sequences(scenario, events))
    def check(steps: list[tuple[str, dict[str, Any]]]) -> None:
        assert [name for name, _ in steps] == [name for name, _ in scenario.steps if name in events]
        for name, payload in steps:
            assert checkers[name].is_valid(payload), (name, payload)
        legs = dict(scenario.steps)
        a_calls = {p["callId"] for n, p in steps if legs[n] == "A" and "callId" in p}
        assert len(a_calls) == 1
        for name, payload in steps:
            if legs[name] == "B":
                assert payload["callId"] not in a_calls
                assert payload.get("parentCallId", next(iter(a_calls))) in a_calls
        moments = [_when(p["eventTime"]) for _, p in steps]
        assert moments == sorted(moments)
        assert len(set(moments)) == len(moments)
        tags = {p.get("tag") for n, p in steps if legs[n] == "A" and "tag" in events[n].properties}
        assert len(tags) == 1

    check()


def test_scenarios_need_two_available_events() -> None:
    events = catalogue()
    assert {s.name for s in applicable(events)} == {s.name for s in SCENARIOS}
    assert applicable(events, ["disconnect"]) == []
    assert [s.name for s in applicable(events, ["dtmf"])] == ["dtmf"]
    assert [s.name for s in applicable(events, ["answer", "bridgeComplete"])] == ["bridge"]


def test_harmonised_recordings_fit_their_duration() -> None:
    event = catalogue()["recordingAvailable"]

    @EXAMPLES
    @given(payloads(event))
    def check(payload: dict[str, Any]) -> None:
        match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", payload["duration"])
        assert match, payload["duration"]
        hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        span = (_when(payload["endTime"]) - _when(payload["startTime"])).total_seconds()
        assert hours * 3600 + minutes * 60 + seconds <= span + 1.0

    check()


# Replacement values: valid and invalid for the fields they land on (times, ids, enums, nulls).
_REPLACEMENTS = st.one_of(
    st.none(),
    st.integers(-1, 1),
    st.sampled_from(["", "x", "inbound", "2026-11-21T10:00:04.012Z", "not a time", "PT1S", "c-1"]),
)


@pytest.mark.parametrize("name", ["recordingAvailable", "gather", "realTimeTranscriptionStopped"])
def test_the_patch_checker_agrees_with_whole_validation(name: str) -> None:
    """Checking only the replaced fields judges a patched payload as validating all of it does."""
    event = catalogue()[name]
    checker = PatchChecker(event.schema)
    validator = validator_for(event)
    keys = st.sampled_from([*event.properties, "unknownField"])

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(raw_payloads(event), st.dictionaries(keys, _REPLACEMENTS, max_size=4), st.sets(keys, max_size=2))
    def check(drawn: dict[str, Any], replaced: dict[str, Any], removed: set[str]) -> None:
        assume(validator.is_valid(drawn))
        patched = {k: v for k, v in {**drawn, **replaced}.items() if k not in removed}
        assert checker.accepts(drawn, patched) == validator.is_valid(patched), (replaced, removed)

    check()
