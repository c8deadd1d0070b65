"""How a test uses the sink and a flow, without pytest fixtures: a worked example.

A stand-in "platform" thread plays the target: it posts ``answer``, runs the Gather it was given,
posts ``gather`` with the digits, and posts ``disconnect``, retrying once when the sink fails on
purpose (as the platform retries asynchronous callbacks).
"""

from __future__ import annotations

import threading

import httpx

from conformance.webhooks import Flow, WebhookSink, carries_tag, non_decreasing, same
from conformance.webhooks.script import Reply

from .conftest import SMALL_CATALOGUE, payload

MENU = (
    '<Response><Gather gatherUrl="gather" maxDigits="1">'
    "<SpeakSentence>Press 1</SpeakSentence></Gather></Response>"
)


def platform(answer_url: str, gather_url: str, status_url: str) -> None:
    with httpx.Client(trust_env=False, timeout=10) as http:
        bxml = http.post(answer_url, json=payload("answer", "c-42", 0, tag="menu")).text
        assert "<Gather" in bxml
        reply = http.post(gather_url, json=payload("gather", "c-42", 1, tag="menu", digits="1"))
        assert "<Hangup/>" in reply.text
        for _attempt in range(2):
            if http.post(status_url, json=payload("disconnect", "c-42", 2, tag="menu")).status_code < 300:
                break


def test_a_menu_call_end_to_end() -> None:
    with WebhookSink(catalogue=SMALL_CATALOGUE) as sink:
        scope = sink.scope("menu call")
        scope.reply("answer", MENU)
        scope.reply(
            "gather", lambda data: "<Response><Hangup/></Response>" if data["digits"] == "1" else None
        )
        scope.fault("disconnect", status=500, times=1)  # the first delivery fails
        scope.reply("disconnect", Reply.empty(204))

        worker = threading.Thread(
            target=platform, args=(scope.url("answer"), scope.url("gather"), scope.url("status"))
        )
        worker.start()
        flow = Flow(
            ["answer", "gather", "disconnect", "disconnect"],  # one failed delivery, one retry
            rules=[same("callId"), non_decreasing("eventTime"), carries_tag("menu")],
            name="menu call",
        )
        received = scope.expect(flow, timeout=10)
        worker.join()

        assert [w.outcome.status for w in received] == [200, 200, 500, 204]
        assert scope.wait_for("gather", call_id="c-42").payload == payload(
            "gather", "c-42", 1, tag="menu", digits="1"
        )
        scope.check()  # no errors on the server thread, no payload broke the contract
