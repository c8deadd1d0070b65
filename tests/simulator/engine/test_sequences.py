"""Whole flows checked against the documented webhook sequences (``conformance.webhooks.expectations``)."""

from __future__ import annotations

from conformance.webhooks.expectations import Flow, any_order
from conformance.webhooks.rules import carries_tag, non_decreasing, same

from .conftest import LOOPBACK, Harness


def test_ivr_flow_matches_the_documented_sequence(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><Pause duration="1"/><SendDtmf>2</SendDtmf><Pause duration="1"/>'
        "<SpeakSentence>my account number is seven</SpeakSentence><SendDtmf>#</SendDtmf>"
        '<Pause duration="30"/></Response>',
    )
    harness.app.reply(
        "/answer",
        '<Response><Gather gatherUrl="/menu" maxDigits="1"><SpeakSentence>press two</SpeakSentence>'
        "</Gather></Response>",
    )
    harness.app.reply(
        "/menu",
        '<Response><Record recordCompleteUrl="/recorded" recordingAvailableUrl="/available" '
        'transcribe="true" transcriptionAvailableUrl="/transcribed" tag="recording"/></Response>',
    )
    harness.app.reply(
        "/recorded",
        '<Response><Transfer transferCompleteUrl="/transferred"><PhoneNumber transferAnswerUrl="/b" '
        'transferDisconnectUrl="/b-gone">+19995550005</PhoneNumber></Transfer></Response>',
    )
    harness.app.reply("/transferred", "<Response><Hangup/></Response>")
    call_id = harness.create_call(to=LOOPBACK, tag="ivr")
    harness.wait_ended(call_id)
    harness.app.wait_event("transcriptionAvailable")
    bodies = [h.body for h in harness.app.events() if h.body.get("callId") == call_id]
    flow = Flow(
        [
            "answer",
            "gather",
            "recordComplete",
            any_order(
                ["recordingAvailable", "transcriptionAvailable"],
                ["transferComplete", "disconnect"],
            ),
        ],
        call_id=call_id,
        rules=[
            same("accountId"),
            non_decreasing("eventTime"),
            carries_tag("ivr", stop="recordComplete"),
            carries_tag("recording", start="recordComplete"),
        ],
    )
    flow.check(bodies)
    b_leg = harness.app.wait_event("transferAnswer")[0].body["callId"]
    b_bodies = [h.body for h in harness.app.events() if h.body.get("callId") == b_leg]
    Flow(["transferAnswer", "transferDisconnect"], call_id=b_leg, rules=[same("parentCallId")]).check(
        b_bodies
    )
    gather = harness.app.wait_event("gather")[0]
    assert gather.body["digits"] == "2"
