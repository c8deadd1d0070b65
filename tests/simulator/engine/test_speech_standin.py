"""The speech stand-in on real streams: a SpeakSentence's words reach an agent on the other leg's
stream, and an agent's stand-in speech reaches the other leg's transcription and speech gather.

Streams run the clock at real time, so each call here lasts about two seconds.
"""

from __future__ import annotations

import base64
from datetime import datetime

from conformance import pcmu
from conformance.simulator.engine.tones import DtmfDetector
from conformance.speech import SpeechDecoder
from tests.streams.agents import agent_module, serving

from .conftest import LOOPBACK, Harness
from .ws_sink import WebsocketApp, ws_app_fixture  # noqa: F401 (the ws_app fixture)


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_speak_sentence_is_recovered_by_the_agent_on_the_other_legs_stream(
    harness: Harness, ws_app: WebsocketApp
) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><Pause duration="0.15"/><SpeakSentence>order number fünf</SpeakSentence>'
        '<Pause duration="0.3"/><SpeakSentence>thanks</SpeakSentence><Pause duration="0.3"/>'
        "<Hangup/></Response>",
    )
    harness.app.reply(
        "/answer",
        f'<Response><StartStream name="ear" destination="{ws_app.url("/ear")}"/>'
        '<Pause duration="5"/></Response>',
    )
    harness.wait_ended(harness.create_call(to=LOOPBACK))
    ws_app.wait(lambda: bool(ws_app.on("/ear")) and ws_app.on("/ear")[0].closed)
    decoder, dtmf = SpeechDecoder(), DtmfDetector()
    texts: list[str] = []
    digits: list[str] = []
    for message in ws_app.on("/ear")[0].media("inbound"):
        pcm = pcmu.decode(base64.b64decode(message["payload"]))
        texts.extend(u.text for u in decoder.feed(pcm))
        digit = dtmf.feed(pcm)
        if digit is not None:
            digits.append(digit)
    assert texts == ["order number fünf", "thanks"]
    assert digits == []  # the stand-in never reads as a key press


def test_an_agents_stand_in_speech_reaches_the_other_legs_transcription(
    harness: Harness, ws_app: WebsocketApp
) -> None:
    ws_app.behaviour["/echo"] = "echo"  # the agent says back what it hears: here, a sentence
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        f'<Response><StartTranscription name="live" destination="{ws_app.url("/rtt")}"/>'
        '<Pause duration="0.1"/><SpeakSentence>book a table</SpeakSentence><Pause duration="0.8"/>'
        '<StopTranscription name="live"/><Hangup/></Response>',
    )
    harness.app.reply(
        "/answer",
        f'<Response><StartStream name="bot" mode="bidirectional" destination="{ws_app.url("/echo")}"/>'
        '<Pause duration="5"/></Response>',
    )
    harness.wait_ended(harness.create_call(to=LOOPBACK))
    ws_app.wait(lambda: bool(ws_app.on("/rtt")) and ws_app.on("/rtt")[0].closed)
    conn = ws_app.on("/rtt")[0]
    # The calling leg's own sentence is on its outbound track; what it heard is the agent's echo.
    assert conn.events() == ["start", "transcription", "stop"]
    result = conn.messages[1]
    assert result["transcript"] == "book a table"
    assert result["track"] == "inbound"
    assert 0 < result["startTime"] < result["endTime"]


def test_the_example_agent_hears_a_sentence_and_its_answer_ends_the_callers_speech_gather(
    harness: Harness, ws_app: WebsocketApp
) -> None:
    agent = agent_module.Agent()
    harness.route_loopback()
    with serving(agent) as url:
        harness.app.reply(
            "/initiate",
            f'<Response><StartTranscription name="live" destination="{ws_app.url("/rtt")}"/>'
            '<Pause duration="0.1"/><Gather input="speech" gatherUrl="/gather" firstDigitTimeout="10">'
            "<SpeakSentence>I need a taxi</SpeakSentence></Gather>"
            '<StopTranscription name="live"/><Hangup/></Response>',
        )
        harness.app.reply(
            "/answer",
            f'<Response><StartStream name="bot" mode="bidirectional" destination="{url}"/>'
            '<Pause duration="5"/></Response>',
        )
        harness.wait_ended(harness.create_call(to=LOOPBACK))
    assert list(agent.said.values()) == [["I need a taxi"]]
    # The speech gather ended on the agent's answer (simulated time), not on its 10 s timeout.
    (gather,) = harness.app.events("/gather")
    started = harness.app.events("/initiate")[0].body["startTime"]
    assert _at(gather.body["eventTime"]) - _at(started) < 8
    ws_app.wait(lambda: bool(ws_app.on("/rtt")) and ws_app.on("/rtt")[0].closed)
    transcripts = [
        m["transcript"] for m in ws_app.on("/rtt")[0].messages if m["eventType"] == "transcription"
    ]
    assert transcripts == ["you said I need a taxi"]
