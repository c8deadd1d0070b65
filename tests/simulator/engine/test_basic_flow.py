"""Outbound calls to simulated far ends: answer, BXML, implicit hangup, disconnect causes."""

from __future__ import annotations

from datetime import datetime

from tests.simulator.engine.conftest import Harness


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_answer_then_implicit_hangup(harness: Harness) -> None:
    harness.app.reply("/answer", "<Response><SpeakSentence>Hello there</SpeakSentence></Response>")
    call_id = harness.create_call(tag="t1")
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "hangup"
    answer = harness.app.wait_event("answer")[0]
    disconnect = harness.app.wait_event("disconnect")[0]
    assert answer.body["callId"] == call_id
    assert answer.body["tag"] == "t1"
    assert disconnect.body["cause"] == "hangup"
    assert disconnect.path == "/disconnect"
