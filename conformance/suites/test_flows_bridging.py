"""Webhook flows that join calls (marker ``flows``): Transfer, Bridge and Conference.
Sequences as the Voice API docs state them.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from conformance.suites.flowkit import HOLD, call_flow, simulator_only
from conformance.suites.loopback import FAR_ENDS, HANGUP, Loopback
from conformance.webhooks import (
    Flow,
    carries_tag,
    count,
    either_order,
    equals,
    non_decreasing,
    same,
)

pytestmark = pytest.mark.flows


# -------------------------------------------------------------------------------- transfer, bridge
@pytest.mark.sandbox_safe
def test_transfer_answer_disconnects_complete(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "Transfer: transferAnswer, transferDisconnect, transferComplete"
    initiates: list[str] = []

    def callee(payload: dict[str, Any]) -> str:
        initiates.append(str(payload.get("callId")))
        if len(initiates) == 1:  # the loopback leg of the original call waits
            return HOLD
        return "<Response><SpeakSentence>transferred</SpeakSentence><Hangup/></Response>"

    loop.answer_callee(callee)
    loop.answer_caller(
        f'<Response><Transfer transferCompleteUrl="{loop.url("transfer-complete")}" tag="xfer">'
        f'<PhoneNumber transferAnswerUrl="{loop.url("transfer-answer")}" '
        f'transferDisconnectUrl="{loop.url("transfer-disconnect")}" tag="b-leg">{loop.callee}</PhoneNumber>'
        "</Transfer></Response>"
    )
    loop.script("transferAnswer", "<Response><SpeakSentence>connecting</SpeakSentence></Response>")
    loop.script("transferComplete", HANGUP)
    call_id = loop.place()
    answer = loop.wait_for("transferAnswer", where=flow_name)
    b_leg = answer.call_id or ""
    loop.expect(
        Flow(
            # the order of transferDisconnect and transferComplete is not documented; the A-leg's
            # disconnect follows the BXML that transferComplete returned
            [
                "answer",
                "transferAnswer",
                either_order("transferDisconnect", ["transferComplete", "disconnect"]),
            ],
            name=flow_name,
            rules=[
                equals("parentCallId", call_id, events=["transferAnswer", "transferDisconnect"]),
                equals("callId", call_id, events=["answer", "transferComplete", "disconnect"]),
                equals("callId", b_leg, events=["transferAnswer", "transferDisconnect"]),
                carries_tag("b-leg", events=["transferAnswer", "transferDisconnect"]),
                carries_tag("xfer", events=["transferComplete"]),
                # each leg's own webhooks in time order; the two legs are delivered independently,
                # so arrival order across them says nothing about their times
                non_decreasing("eventTime", events=["answer", "transferComplete", "disconnect"]),
                non_decreasing("eventTime", events=["transferAnswer", "transferDisconnect"]),
            ],
        ),
        calls={call_id, b_leg},
    )


def test_transfer_to_a_busy_number(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    simulator_only(loop)
    loop.answer_caller(
        f'<Response><Transfer transferCompleteUrl="{loop.url("transfer-complete")}">'
        f'<PhoneNumber transferAnswerUrl="{loop.url("transfer-answer")}" '
        f'transferDisconnectUrl="{loop.url("transfer-disconnect")}">{FAR_ENDS["busy"]}</PhoneNumber>'
        "</Transfer></Response>"
    )
    loop.script("transferComplete", HANGUP)
    call_id = loop.place(FAR_ENDS["person"])
    loop.expect(
        Flow(
            ["answer", either_order("transferDisconnect", ["transferComplete", "disconnect"])],
            name="Transfer to a busy number: no transferAnswer, both report busy",
            rules=[
                equals("cause", "busy", events=["transferDisconnect", "transferComplete"]),
                equals("parentCallId", call_id, events=["transferDisconnect"]),
                equals("callId", call_id, events=["answer", "transferComplete", "disconnect"]),
                non_decreasing("eventTime", events=["answer", "transferComplete", "disconnect"]),
            ],
        )
    )


def _bridge(loop: Loopback, *, target_leaves_first: bool) -> None:
    flow_name = "Bridge ended by the " + ("target" if target_leaves_first else "originator")
    hang_up_soon = '<Response><Pause duration="2"/><Hangup/></Response>'
    hold_long = '<Response><Pause duration="20"/></Response>'
    # the loopback legs: the first call's (the bridge target) and the second call's (the originator)
    order: list[str] = []

    def callee(payload: dict[str, Any]) -> str:
        order.append(str(payload.get("callId")))
        first = len(order) == 1
        return hang_up_soon if first == target_leaves_first else hold_long

    calls: list[str] = []

    def caller(payload: dict[str, Any]) -> str:
        if not calls or payload.get("callId") == calls[0]:  # the first call is the bridge target
            calls[:] = [str(payload.get("callId"))]
            return hold_long
        return (
            f'<Response><Bridge bridgeCompleteUrl="{loop.url("bridge-complete")}" '
            f'bridgeTargetCompleteUrl="{loop.url("bridge-target-complete")}">{calls[0]}</Bridge></Response>'
        )

    loop.answer_callee(callee)
    loop.answer_caller(caller)
    loop.script("bridgeComplete", HANGUP)
    loop.script("bridgeTargetComplete", HANGUP)
    with loop.real_time():
        target = loop.place()
        loop.wait_for("answer", call_id=target, where=flow_name)
        originator = loop.place()
        ended = "bridgeComplete" if target_leaves_first else "bridgeTargetComplete"
        loop.wait_for(ended, where=flow_name, timeout=loop.timeout + 5)
    if target_leaves_first:
        steps: list[Any] = ["answer", "bridgeComplete", "disconnect"]
        loop.expect(call_flow(flow_name, steps, originator))
    else:
        steps = ["answer", "bridgeTargetComplete", "disconnect"]
        loop.expect(call_flow(flow_name, steps, target))
    other = target if target_leaves_first else originator
    loop.expect(call_flow(flow_name + " (the other call)", ["answer", "disconnect"], other))


@pytest.mark.sandbox_safe
def test_bridge_target_leaves_first(bw_loopback: Loopback) -> None:
    _bridge(bw_loopback, target_leaves_first=True)


@pytest.mark.sandbox_safe
def test_bridge_originator_leaves_first(bw_loopback: Loopback) -> None:
    _bridge(bw_loopback, target_leaves_first=False)


# -------------------------------------------------------------------------------- conference
@pytest.mark.sandbox_safe
def test_conference_lifecycle_with_mute_and_hold(bw_loopback: Loopback) -> None:
    loop = bw_loopback
    flow_name = "Conference: created, joins, exits, completed"
    room = f"bw-conformance-{uuid.uuid4().hex[:12]}"
    events = loop.url("conference")
    # whichever leg joins first creates the conference: both name the same event URL and tag
    loop.answer_callee(
        f'<Response><Conference conferenceEventUrl="{events}" hold="true" tag="conf">{room}</Conference>'
        "</Response>"
    )
    loop.answer_caller(
        f'<Response><Conference conferenceEventUrl="{events}" mute="true" tag="conf">{room}</Conference>'
        "</Response>"
    )
    with loop.real_time():
        call_id = loop.place()
        callee = loop.callee_id()
        created = loop.wait_for("conferenceCreated", where=flow_name)
        conference_id = (created.payload or {}).get("conferenceId")
        for member in (callee, call_id):
            loop.wait_for("conferenceMemberJoin", call_id=member, where=flow_name)
        members = f"{loop.target.account_url}/conferences/{conference_id}/members"
        caller_state = loop.client.get(f"{members}/{call_id}")
        callee_state = loop.client.get(f"{members}/{callee}")
        got = (
            caller_state.status_code,
            caller_state.json().get("mute") if caller_state.status_code == 200 else None,
        )
        loop.require(
            got == (200, True), flow_name, 'mute="true" mutes the member', expected=(200, True), received=got
        )
        got = (
            callee_state.status_code,
            callee_state.json().get("hold") if callee_state.status_code == 200 else None,
        )
        loop.require(
            got == (200, True), flow_name, 'hold="true" holds the member', expected=(200, True), received=got
        )
        update = loop.client.put(f"{members}/{call_id}", json={"mute": False, "hold": True})
        loop.require(
            update.status_code == 204,
            flow_name,
            "updateConferenceMember answers 204",
            expected=204,
            received=f"{update.status_code} {update.text[:200]}",
        )
        after = loop.client.get(f"{members}/{call_id}").json()
        got = (after.get("mute"), after.get("hold"))
        loop.require(
            got == (False, True), flow_name, "updateConferenceMember changes mute and hold",
            expected=(False, True), received=got,
        )  # fmt: skip
        loop.hang_up(call_id)
        loop.expect(
            Flow(
                [
                    "conferenceCreated",
                    count("conferenceMemberJoin", 2),
                    count("conferenceMemberExit", 2),
                    "conferenceCompleted",
                ],
                name=flow_name,
                rules=[same("conferenceId"), same("name"), carries_tag("conf"), non_decreasing("eventTime")],
                ignore=["answer", "initiate", "disconnect"],
            )
        )
