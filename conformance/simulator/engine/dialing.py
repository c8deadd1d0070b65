"""Who answers an outbound leg: a loopback leg on one of our numbers, or a simulated far end.

Simulated far ends (documented in the README):

==================  =================================================================
``+19995550000``    a person answers after one ring (1 s)
``+19995550001``    busy (cause ``busy``, SIP 486)
``+19995550002``    never answers: the leg ends at its call timeout (cause ``timeout``)
``+19995550003``    rejects the call (cause ``rejected``, SIP 603)
``+19995550004``    an answering machine: answers, plays a greeting and a beep
``+19995550005``    a person who answers after one ring and hangs up 5 s later
anything else       a person answers after one ring (as ``+19995550000``)
==================  =================================================================

A number that an account owns, routed to an application with a ``callInitiatedCallbackUrl``, is
a loopback: an inbound leg is created on that application and its BXML decides when (and whether)
the call is answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance.simulator.clock import Mailbox
from conformance.simulator.engine.leg import Leg, couple
from conformance.simulator.engine.media import Sound, speech_seconds

if TYPE_CHECKING:
    from conformance.simulator.models import Account, Application

RING_SECONDS = 1.0
PERSON = "+19995550000"
BUSY = "+19995550001"
NO_ANSWER = "+19995550002"
REJECT = "+19995550003"
MACHINE = "+19995550004"
SHORT_CALL = "+19995550005"
SHORT_CALL_SECONDS = 5.0
MACHINE_GREETING = "Hello, you have reached the voicemail box. Please leave a message after the tone."
MACHINE_BEEP_SECONDS = 0.5


@dataclass(frozen=True)
class DialResult:
    """How dialling ended: ``answered`` or a disconnect ``cause`` with its SIP code."""

    answered: bool
    cause: str = "hangup"
    sip_code: int | None = None
    callee: Leg | None = None
    machine: bool = False


class Person:
    """A simulated human: silent, hears everything."""

    def __init__(self) -> None:
        self.heard: list[Sound] = []

    def hear(self, sound: Sound) -> None:
        self.heard.append(sound)


async def dial(leg: Leg, timeout: float) -> DialResult:
    """Ring ``leg.call.to`` until it answers, fails, or ``timeout`` simulated seconds pass."""
    number = leg.call.to
    routed = leg.engine.loopback_route(number)
    if routed is not None:
        return await _dial_loopback(leg, *routed, timeout=timeout)
    clock = leg.clock
    if number == NO_ANSWER:
        await clock.sleep(timeout)
        return DialResult(False, "timeout", 487)
    ring = min(RING_SECONDS, timeout)
    await clock.sleep(ring)
    if ring < RING_SECONDS:
        return DialResult(False, "timeout", 487)
    if number == BUSY:
        return DialResult(False, "busy", 486)
    if number == REJECT:
        return DialResult(False, "rejected", 603)
    person = Person()
    leg.peer = person
    if number == SHORT_CALL:
        leg.answer_watchers.append(lambda answered: _start(answered, _hang_up_later(answered)))
    if number == MACHINE:
        leg.answer_watchers.append(lambda answered: _start(answered, _machine_greeting(answered)))
        return DialResult(True, machine=True)
    return DialResult(True)


def _start(leg: Leg, coro: Coroutine[Any, Any, None]) -> None:
    leg.spawn(coro)


async def _hang_up_later(leg: Leg) -> None:
    await leg.clock.sleep(SHORT_CALL_SECONDS)
    leg.hangup("hangup")


async def _machine_greeting(leg: Leg) -> None:
    length = speech_seconds(MACHINE_GREETING)
    leg.hear(Sound(leg.clock.time(), length, "speech", MACHINE_GREETING))
    await leg.clock.sleep(length)
    leg.hear(Sound(leg.clock.time(), MACHINE_BEEP_SECONDS, "tone", "beep"))


async def _dial_loopback(
    leg: Leg, account: Account, application: Application, *, timeout: float
) -> DialResult:
    callee = leg.engine.new_inbound_leg(leg, account, application)
    signal: Mailbox[str] = Mailbox(leg.clock)

    def answered(callee_leg: Leg) -> None:
        leg.peer = callee_leg
        callee_leg.peer = leg
        couple(leg, callee_leg)
        signal.put("answered")

    def ended(_: Leg) -> None:
        if not callee.answered:
            signal.put("ended")

    callee.answer_watchers.append(answered)
    callee.watchers.append(ended)
    leg.engine.start_inbound(callee)
    try:
        outcome = await leg.clock.wait_for(signal.get(), timeout)
    except TimeoutError:
        callee.hangup("cancel")
        return DialResult(False, "timeout", 487)
    except asyncio.CancelledError:
        callee.hangup("cancel")
        raise
    finally:
        signal.close()
    if outcome == "answered":
        return DialResult(True, callee=callee)
    cause = callee.call.disconnect_cause or "rejected"
    if cause not in ("busy", "timeout"):
        cause = "rejected"
    return DialResult(False, cause, {"busy": 486, "timeout": 487}.get(cause, 603))


__all__ = [
    "BUSY",
    "MACHINE",
    "NO_ANSWER",
    "PERSON",
    "REJECT",
    "RING_SECONDS",
    "SHORT_CALL",
    "DialResult",
    "Person",
    "dial",
]
