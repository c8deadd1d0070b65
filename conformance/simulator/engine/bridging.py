"""Verbs that connect two calls: ``<Transfer>``, ``<Bridge>`` and ``<Forward>``.

Connecting two legs means each relays what its party says to the other's party (``leg.bridge``);
the legs keep their own records, recordings and StartGather listeners.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from conformance.simulator.clock import Mailbox
from conformance.simulator.engine.delivery import Target, method_of, resolve
from conformance.simulator.engine.dialing import dial
from conformance.simulator.engine.documents import Document, Verb
from conformance.simulator.engine.leg import Leg, couple

_Event = tuple[str, Leg]


def join(a: Leg, b: Leg) -> None:
    a.bridge = b
    b.bridge = a


def part(a: Leg, b: Leg) -> None:
    if a.bridge is b:
        a.bridge = None
    if b.bridge is a:
        b.bridge = None


def _part_on_end(a: Leg, ended: Leg) -> None:
    part(a, ended)


def _child_target(child: Verb, base: str | None, prefix: str, with_fallback: bool = True) -> Target | None:
    url = resolve(base, child.get(f"{prefix}Url"))
    if url is None:
        return None
    return Target(
        url,
        method_of(child.get(f"{prefix}Method")),
        child.get("username"),
        child.get("password"),
        resolve(base, child.get(f"{prefix}FallbackUrl")) if with_fallback else None,
        method_of(child.get(f"{prefix}FallbackMethod")),
        child.get("fallbackUsername"),
        child.get("fallbackPassword"),
    )


def _verb_target(verb: Verb, base: str | None, prefix: str) -> Target | None:
    return _child_target(verb, base, prefix)


async def _ring(leg: Leg, timeout: float, events: Mailbox[_Event]) -> None:
    """The runner of a B-leg while it rings: report the answer to the A-leg."""
    leg.store.update_call(leg.id, state="initiated", start_time=leg.clock.now())
    result = await dial(leg, timeout)
    if not result.answered:
        leg.hangup(result.cause, sip_code=result.sip_code)
        return
    leg.answer()
    events.put(("answered", leg))


async def transfer_verb(a: Leg, verb: Verb, doc: Document) -> Document | None:
    """``<Transfer>``: ring 1-8 targets, run transferAnswer BXML on the first to answer, bridge."""
    base = doc.base_url
    engine = a.engine
    caller_id = (verb.get("transferCallerId") or "").strip() or a.call.from_
    timeout = verb.number("callTimeout", 30.0)
    complete = _verb_target(verb, base, "transferComplete")
    children = [c for c in verb.children if c.name in ("PhoneNumber", "SipUri")]
    events: Mailbox[_Event] = Mailbox(a.clock)
    legs: list[Leg] = []
    answers: dict[str, Target | None] = {}
    for child in children:
        b = engine.new_outbound_leg(a, to=child.text, from_=caller_id, tag=child.get("tag"), timeout=timeout)
        b.transfer_fields = {"transferCallerId": caller_id, "transferTo": child.text}
        b.disconnect_event = "transferDisconnect"
        b.status_target = _child_target(child, base, "transferDisconnect", with_fallback=False)
        b.watchers.append(lambda ended: events.put(("ended", ended)))
        answers[b.id] = _child_target(child, base, "transferAnswer")
        legs.append(b)
    for b in legs:
        b.run(functools.partial(_ring, b, timeout, events))
    winner: Leg | None = None
    failure: Leg | None = None
    try:
        alive = {b.id for b in legs}
        while alive and winner is None:
            kind, b = await events.get()
            if kind == "ended":
                alive.discard(b.id)
                failure = failure or b
            elif kind == "answered" and not b.done:
                winner = b
        if winner is not None:
            for b in legs:
                if b is not winner:
                    b.hangup("cancel")
            answer_target = answers.get(winner.id)
            if answer_target is not None:
                winner.run(functools.partial(_transfer_answer, winner, answer_target, events))
                while True:
                    kind, b = await events.get()
                    if b is winner and kind in ("ready", "ended"):
                        break
            if not winner.done:
                join(a, winner)
                winner.watchers.append(functools.partial(_part_on_end, a))
                while True:
                    kind, b = await events.get()
                    if b is winner and kind == "ended":
                        break
            part(a, winner)
    finally:
        events.close()
        if a.done:
            for b in legs:
                b.hangup("hangup" if b.answered else "cancel")
    if a.done:
        return None
    reference = winner or failure or (legs[0] if legs else None)
    if complete is None or reference is None:
        return None
    extra: dict[str, Any] = dict(reference.transfer_fields)
    extra["cause"] = reference.call.disconnect_cause or "hangup"
    extra["errorMessage"] = reference.call.error_message
    return await a.fetch("transferComplete", complete, "call", **extra)


async def _transfer_answer(b: Leg, target: Target, events: Mailbox[_Event]) -> None:
    from conformance.simulator.engine.verbs import interpret

    document: Document | None = await b.fetch("transferAnswer", target, "transferAnswer")
    while document is not None and not b.done:
        document = await interpret(b, document)
    events.put(("ready", b))


async def bridge_verb(a: Leg, verb: Verb, doc: Document) -> Document | None:
    """``<Bridge>``: connect with another running call until one of the two leaves."""
    base = doc.base_url
    complete = _verb_target(verb, base, "bridgeComplete")
    target_complete = _verb_target(verb, base, "bridgeTargetComplete")
    other = a.engine.legs.get(verb.text.strip())
    problem = None
    if other is None or other.done:
        problem = "the target call is not active"
    elif other is a:
        problem = "a call cannot be bridged with itself"
    elif not other.answered:
        problem = "the target call has not been answered"
    elif other.forwarding:
        problem = "the target call is executing <Forward>"
    if problem is not None or other is None:
        if complete is None:
            return None
        return await a.fetch("bridgeComplete", complete, "call", cause="error", errorMessage=problem)
    events: Mailbox[_Event] = Mailbox(a.clock)
    other.watchers.append(lambda ended: events.put(("ended", ended)))

    async def hold_target() -> None:
        await asyncio.Event().wait()  # the target's own BXML is cancelled while bridged

    other.run(hold_target)
    join(a, other)
    try:
        await events.get()
    finally:
        part(a, other)
        events.close()
        if a.done and not other.done:
            other.run(lambda: _target_after(other, target_complete))
    if a.done:
        return None
    if complete is None:
        return None
    return await a.fetch("bridgeComplete", complete, "call", cause="hangup")


async def _target_after(other: Leg, target: Target | None) -> None:
    if target is None:
        other.hangup("hangup")
        return
    document = await other.fetch("bridgeTargetComplete", target, "call")
    await other.execute(document)


async def forward_verb(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    """``<Forward>``: hand an unanswered inbound call to another number; the app loses control."""
    if leg.answered or leg.call.direction != "inbound":
        return None
    to = (verb.get("to") or "").strip()
    if not to:
        return None
    leg.forwarding = True
    timeout = verb.number("callTimeout", 30.0)
    sender = (verb.get("from") or "").strip() or leg.call.to
    forward = leg.engine.new_outbound_leg(leg, to=to, from_=sender, tag=None, timeout=timeout)
    forward.status_target = None
    leg.store.update_call(forward.id, state="initiated", start_time=leg.clock.now())
    try:
        result = await dial(forward, timeout)
    except asyncio.CancelledError:
        forward.hangup("cancel")
        raise
    if not result.answered:
        forward.hangup(result.cause, sip_code=result.sip_code)
        leg.hangup(result.cause, sip_code=result.sip_code)
        return None
    forward.answer()
    leg.answer()
    join(leg, forward)
    couple(leg, forward)
    await asyncio.Event().wait()  # until either side hangs up (which cancels this task)
    return None


__all__ = ["bridge_verb", "forward_verb", "join", "part", "transfer_verb"]
