"""Transfer (simultaneous ring, transferAnswer, per-leg transferDisconnect, transferComplete) and Bridge."""

from __future__ import annotations

from werkzeug import Request, Response

from .conftest import LOOPBACK, Harness

_TRANSFER = (
    '<Response><Transfer transferCompleteUrl="/complete" transferCallerId="+19195550177" tag="xfer">'
    '<PhoneNumber transferAnswerUrl="/b-answer" transferDisconnectUrl="/b-gone" tag="b-leg">'
    "{number}</PhoneNumber>"
    "</Transfer></Response>"
)


def test_transfer_to_a_person_who_hangs_up(harness: Harness) -> None:
    harness.app.reply("/answer", _TRANSFER.format(number="+19995550005"))
    harness.app.reply("/b-answer", "<Response><SpeakSentence>connecting</SpeakSentence></Response>")
    harness.app.reply("/complete", "<Response><Hangup/></Response>")
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    answer = harness.app.wait_event("transferAnswer")[0]
    gone = harness.app.wait_event("transferDisconnect")[0]
    complete = harness.app.wait_event("transferComplete")[0]
    b_leg = answer.body["callId"]
    assert b_leg != call_id
    assert answer.body["parentCallId"] == call_id
    assert answer.body["transferCallerId"] == "+19195550177"
    assert answer.body["transferTo"] == "+19995550005"
    assert answer.body["tag"] == "b-leg"
    assert gone.body["callId"] == b_leg
    assert gone.body["cause"] == "hangup"
    assert complete.body["callId"] == call_id
    assert complete.body["tag"] == "xfer"
    assert complete.body["cause"] == "hangup"
    b_state = harness.state(b_leg)
    assert b_state["parentCallId"] == call_id
    assert b_state["direction"] == "outbound"


def test_transfer_to_busy_number_reports_the_cause(harness: Harness) -> None:
    harness.app.reply("/answer", _TRANSFER.format(number="+19995550001"))
    harness.app.reply("/complete", "<Response><Hangup/></Response>")
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    assert harness.app.wait_event("transferDisconnect")[0].body["cause"] == "busy"
    assert harness.app.wait_event("transferComplete")[0].body["cause"] == "busy"
    assert "transferAnswer" not in harness.app.names()


def test_simultaneous_ring_first_answer_wins_others_cancelled(harness: Harness) -> None:
    harness.app.reply(
        "/answer",
        '<Response><Transfer transferCompleteUrl="/complete" callTimeout="10">'
        '<PhoneNumber transferDisconnectUrl="/gone-1">+19995550002</PhoneNumber>'
        '<PhoneNumber transferDisconnectUrl="/gone-2" transferAnswerUrl="/b2">+19995550005</PhoneNumber>'
        "</Transfer></Response>",
    )
    harness.app.reply("/complete", "<Response><Hangup/></Response>")
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    assert harness.app.wait_event("transferDisconnect", count=2)
    assert harness.app.events("/gone-1")[0].body["cause"] == "cancel"
    assert harness.app.events("/gone-2")[0].body["cause"] == "hangup"
    assert harness.app.wait_event("transferAnswer")[0].path == "/b2"
    assert harness.app.wait_event("transferComplete")[0].body["transferTo"] == "+19995550005"


def test_no_transfer_complete_when_the_a_leg_hangs_up_first(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply("/initiate", '<Response><Pause duration="3"/><Hangup/></Response>')
    harness.app.reply("/answer", _TRANSFER.format(number="+19995550000"))
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    gone = harness.app.wait_event("transferDisconnect")[0]
    assert gone.body["cause"] == "hangup"
    harness.app.wait_event("disconnect", callId=call_id)
    assert "transferComplete" not in harness.app.names()


def test_transferred_parties_hear_each_other(harness: Harness) -> None:
    harness.route_loopback()

    def initiate(request: Request) -> Response:
        if request.get_json()["to"] == LOOPBACK:  # the A-leg's party says digits once connected
            bxml = '<Response><Pause duration="3"/><SendDtmf>55</SendDtmf><Pause duration="10"/></Response>'
        else:  # the B-leg's party, itself a loopback call, gathers them
            bxml = '<Response><Gather gatherUrl="/c-gathered" firstDigitTimeout="10"/></Response>'
        return Response(bxml, content_type="application/xml")

    harness.app.reply("/initiate", initiate)
    harness.app.reply("/c-gathered", "<Response><Hangup/></Response>")
    harness.app.reply(
        "/answer",
        '<Response><Transfer><PhoneNumber transferAnswerUrl="/b-answer">+19195550160</PhoneNumber>'
        "</Transfer></Response>",
    )
    call_id = harness.create_call(to=LOOPBACK)
    gather = harness.app.wait_event("gather")[0]
    assert gather.body["digits"] == "55"
    assert gather.body["to"] == "+19195550160"
    harness.wait_ended(call_id)


def test_bridge_two_calls_then_bridge_complete(harness: Harness) -> None:
    harness.clock.time_scale = 1.0
    harness.app.reply("/answer-t", '<Response><Pause duration="20"/></Response>')
    target = harness.create_call(to="+19995550005", answer="/answer-t")
    harness.app.wait(lambda: harness.state(target)["state"] == "answered")
    harness.app.reply(
        "/answer",
        f'<Response><Bridge bridgeCompleteUrl="/bridged">{target}</Bridge></Response>',
    )
    harness.app.reply("/bridged", "<Response><Hangup/></Response>")
    call_id = harness.create_call()
    harness.app.wait_event("answer", callId=call_id)
    harness.clock.time_scale = None  # bridged: let the target's party hang up at once
    harness.wait_ended(call_id)
    complete = harness.app.wait_event("bridgeComplete")[0]
    assert complete.body["callId"] == call_id
    assert harness.state(target)["state"] == "disconnected"


def test_bridge_to_unknown_call_fails_at_once(harness: Harness) -> None:
    harness.app.reply(
        "/answer",
        '<Response><Bridge bridgeCompleteUrl="/bridged">'
        "c-00000000-00000000-0000-4000-8000-000000000000</Bridge></Response>",
    )
    harness.app.reply("/bridged", "<Response><Hangup/></Response>")
    harness.wait_ended(harness.create_call())
    complete = harness.app.wait_event("bridgeComplete")[0]
    assert complete.body["cause"] == "error"
    assert complete.body["errorMessage"]


def test_bridge_target_complete_when_the_originator_leaves_first(harness: Harness) -> None:
    harness.clock.time_scale = 1.0
    harness.app.reply("/answer-t", '<Response><Pause duration="20"/></Response>')
    harness.app.reply("/target-done", "<Response><SpeakSentence>you are alone</SpeakSentence></Response>")
    target = harness.create_call(answer="/answer-t")
    harness.app.wait(lambda: harness.state(target)["state"] == "answered")
    harness.app.reply(
        "/answer",
        f'<Response><Bridge bridgeTargetCompleteUrl="/target-done">{target}</Bridge></Response>',
    )
    call_id = harness.create_call(to="+19995550005")  # this party hangs up after five seconds
    harness.app.wait_event("answer", callId=call_id)
    harness.clock.time_scale = None
    harness.wait_ended(call_id)
    done = harness.app.wait_event("bridgeTargetComplete")[0]
    assert done.body["callId"] == target
    assert harness.wait_ended(target)["disconnectCause"] == "hangup"
    assert "bridgeComplete" not in harness.app.names()
