"""Small helpers shared by the flow suites: durations, times, far-end guards and call flows."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from conformance.suites.loopback import Loopback
from conformance.webhooks import Flow, non_decreasing, same

#: A callee that keeps its leg up (and silent) while the other leg does the work.
HOLD = '<Response><Pause duration="30"/></Response>'
_ISO_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def iso_seconds(duration: object) -> float:
    """Seconds in an ISO 8601 duration such as ``PT4.98S`` or ``PT1H2M``."""
    match = _ISO_DURATION.match(str(duration))
    if match is None:
        raise AssertionError(f"not an ISO 8601 duration: {duration!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_time(value: object) -> datetime:
    """A webhook or API timestamp (``...Z`` allowed) as an aware datetime."""
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def simulator_only(loop: Loopback) -> None:
    """Skip unless the target offers the simulator's far ends."""
    if not loop.simulated:
        pytest.skip("needs the simulator's far ends (a target with the /_sim/ control API)")


def call_flow(name: str, steps: list[Any], call_id: str, *rules: Any, **kwargs: Any) -> Flow:
    """A flow of one call: same callId throughout, eventTime never going backwards, plus ``rules``."""
    return Flow(
        steps,
        name=name,
        call_id=call_id,
        rules=[same("callId"), non_decreasing("eventTime"), *rules],
        **kwargs,
    )


__all__ = ["HOLD", "call_flow", "iso_seconds", "parse_time", "simulator_only"]
