"""Realistic webhook sequences: the webhooks of one call, in a documented order, sharing one callId.

A :class:`Scenario` is a list of steps, each an event on the caller's leg (``A``) or on a
transferred leg (``B``).  :func:`sequences` draws one call (ids, numbers, tag, clock) and then each
step's payload, overriding the fields every step must share: the same ``callId``, account,
numbers and ``tag`` on every A-leg step, a B leg whose ``parentCallId`` is the A leg, one
conference id and name, and ``eventTime`` rising step by step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from hypothesis import strategies as st

from conformance.fuzz import values
from conformance.fuzz.strategies import PatchChecker, Timeline, link_urls, raw_payloads, timelines
from conformance.webhooks.events import EventType

Leg = Literal["A", "B"]


@dataclass(frozen=True)
class Scenario:
    """A named, documented order of webhooks."""

    name: str
    steps: tuple[tuple[str, Leg], ...]
    description: str

    def events(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(event for event, _ in self.steps))


def _a(*names: str) -> tuple[tuple[str, Leg], ...]:
    return tuple((name, "A") for name in names)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "inbound-menu",
        _a("initiate", "gather", "gather", "redirect", "disconnect"),
        "inbound call: menu, two gathers, a redirect, hang-up",
    ),
    Scenario(
        "outbound-answer",
        _a("answer", "machineDetectionComplete", "gather", "disconnect"),
        "outbound call answered, machine detection, one gather",
    ),
    Scenario(
        "voicemail",
        _a(
            "answer", "gather", "recordComplete", "recordingAvailable", "transcriptionAvailable", "disconnect"
        ),
        "a message recorded, then its recording and transcription become available",
    ),
    Scenario(
        "transfer",
        (
            *_a("initiate", "gather"),
            ("transferAnswer", "B"),
            ("transferDisconnect", "B"),
            *_a("transferComplete", "disconnect"),
        ),
        "caller transferred; the B leg answers, ends, and the A leg resumes",
    ),
    Scenario("bridge", _a("answer", "bridgeComplete", "disconnect"), "a bridge whose target leaves first"),
    Scenario(
        "dtmf",
        _a("answer", "dtmf", "dtmf", "dtmf", "disconnect"),
        "StartGather reporting single keys",
    ),
    Scenario(
        "conference-room",
        _a(
            "initiate",
            "conferenceCreated",
            "conferenceMemberJoin",
            "conferenceMemberExit",
            "conferenceCompleted",
            "disconnect",
            "conferenceRecordingAvailable",
        ),
        "a caller joins a new conference, leaves, and the conference ends",
    ),
)

# Fields that stay the same on every A-leg step of one call.
_CALL_FIELDS = ("accountId", "applicationId", "callId", "from", "to", "direction", "callUrl", "tag")


@dataclass(frozen=True)
class _Call:
    account: str
    application: str
    a_call: str
    b_call: str
    caller: str
    callee: str
    transfer_to: str
    direction: str
    tag: str | None
    conference: str
    conference_name: str
    clock: Timeline
    gaps: tuple[int, ...]  # milliseconds between consecutive webhooks


@cache
def _calls(steps: int) -> st.SearchStrategy[_Call]:
    """One call's shared values and ``steps`` gaps; built once per length (a strategy built while
    drawing is validated again on every draw)."""
    tags = st.none() | values.tags()
    gaps = st.lists(st.integers(1_000, 600_000), min_size=steps, max_size=steps)
    directions = st.sampled_from(("inbound", "outbound"))
    # the two legs of a transfer are different calls
    legs = st.tuples(values.call_ids(), values.call_ids()).filter(lambda pair: pair[0] != pair[1])

    @st.composite
    def draw_call(draw: st.DrawFn) -> _Call:
        a_call, b_call = draw(legs)
        return _Call(
            account=draw(values.account_ids()),
            application=draw(values.uuids()),
            a_call=a_call,
            b_call=b_call,
            caller=draw(values.caller_ids()),
            callee=draw(values.destinations()),
            transfer_to=draw(values.destinations()),
            direction=draw(directions),
            tag=draw(tags),
            conference=draw(values.conference_ids()),
            conference_name=draw(values.conference_names()),
            clock=draw(timelines()),
            gaps=tuple(draw(gaps)),
        )

    return draw_call()


def _shared(call: _Call, leg: Leg) -> dict[str, Any]:
    if leg == "B":
        return {
            "accountId": call.account,
            "applicationId": call.application,
            "callId": call.b_call,
            "parentCallId": call.a_call,
            "from": call.caller,
            "to": call.transfer_to,
            "direction": "outbound",
            "callUrl": values.call_url(call.account, call.b_call),
            "transferCallerId": call.caller,
            "transferTo": call.transfer_to,
            "tag": call.tag,
        }
    return {
        "accountId": call.account,
        "applicationId": call.application,
        "callId": call.a_call,
        "from": call.caller,
        "to": call.callee,
        "direction": call.direction,
        "callUrl": values.call_url(call.account, call.a_call),
        "transferCallerId": call.caller,
        "transferTo": call.transfer_to,
        "tag": call.tag,
        "conferenceId": call.conference,
        "name": call.conference_name,
    }


def _apply(payload: dict[str, Any], event: EventType, shared: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(payload)
    for key, value in shared.items():
        if key not in event.properties:
            continue
        if value is None:
            if key not in event.required:
                result.pop(key, None)
        elif key in result or key in event.required or key in _CALL_FIELDS:
            result[key] = value
    return result


def sequences(
    scenario: Scenario, catalogue: Mapping[str, EventType]
) -> st.SearchStrategy[list[tuple[str, dict[str, Any]]]]:
    """``[(event name, payload), ...]`` for ``scenario``; steps whose event is not in ``catalogue``
    are left out."""
    steps = [(name, leg) for name, leg in scenario.steps if name in catalogue]
    checkers = {name: PatchChecker(catalogue[name].schema) for name, _ in steps}

    calls = _calls(len(steps))
    raws = {name: raw_payloads(catalogue[name]) for name, _ in steps}

    @st.composite
    def build(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
        call = draw(calls)
        clock = call.clock
        moment = clock.answer
        out: list[tuple[str, dict[str, Any]]] = []
        for (name, leg), gap in zip(steps, call.gaps, strict=True):
            event = catalogue[name]
            raw = draw(raws[name])  # its times, duration and URLs are set here
            moment += timedelta(milliseconds=gap)
            times = {
                "enqueuedTime": clock.enqueued,
                "startTime": clock.start,
                "answerTime": clock.answer,
                "endTime": moment - timedelta(milliseconds=1),
                "eventTime": moment,
            }
            shared: dict[str, Any] = _shared(call, leg)
            if isinstance(raw.get("duration"), str):  # recorded between the previous webhook and this one
                shared["duration"] = values.iso_duration(Decimal(gap - 1).scaleb(-3))
            for field, when in times.items():
                if isinstance(raw.get(field), str):
                    shared.setdefault(field, values.format_time(when, clock.style))
            candidate = link_urls(_apply(raw, event, shared))  # mediaUrl on this call too
            out.append((name, candidate if checkers[name].accepts(raw, candidate) else raw))
        return out

    return build()


def applicable(catalogue: Mapping[str, EventType], selected: Sequence[str] | None = None) -> list[Scenario]:
    """Scenarios with at least two steps among the catalogue's (and the selected) events."""
    allowed = set(catalogue) if selected is None else set(selected) & set(catalogue)
    return [s for s in SCENARIOS if sum(1 for name, _ in s.steps if name in allowed) >= 2]


__all__ = ["SCENARIOS", "Leg", "Scenario", "applicable", "sequences"]
