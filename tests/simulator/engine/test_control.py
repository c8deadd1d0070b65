"""Machine detection, REST actions on running calls, streams, real-time transcription, Refer."""

from __future__ import annotations

from .conftest import ACCOUNT, LOOPBACK, Harness
from .ws_sink import WebsocketApp, ws_app_fixture  # noqa: F401 (the ws_app fixture)


def test_sync_machine_detection_delays_the_answer(harness: Harness) -> None:
    harness.app.reply("/answer", "<Response><Hangup/></Response>")
    human = harness.create_call(machineDetection={"mode": "sync"})
    machine = harness.create_call(to="+19995550004", answer="/answer", machineDetection={"mode": "sync"})
    harness.wait_ended(human)
    harness.wait_ended(machine)
    results = {
        h.body["callId"]: h.body["machineDetectionResult"] for h in harness.app.wait_event("answer", count=2)
    }
    assert results[human]["value"] == "human"
    assert results[machine]["value"] == "answering-machine"
    assert "machineDetectionComplete" not in harness.app.names()


def test_async_machine_detection_sends_its_own_event(harness: Harness) -> None:
    harness.app.reply("/answer", '<Response><Pause duration="10"/></Response>')
    call_id = harness.create_call(
        to="+19995550004", machineDetection={"mode": "async", "callbackUrl": harness.app.url("/amd")}
    )
    harness.wait_ended(call_id)
    complete = harness.app.wait_event("machineDetectionComplete")[0]
    assert complete.path == "/amd"
    assert complete.body["machineDetectionResult"]["value"] == "answering-machine"
    answer = harness.app.wait_event("answer")[0]
    assert "machineDetectionResult" not in answer.body


def test_update_call_redirect_and_replace_bxml(harness: Harness) -> None:
    harness.clock.time_scale = 1.0
    harness.app.reply("/answer", '<Response><Pause duration="60"/></Response>')
    harness.app.reply("/redirected", '<Response><Pause duration="60"/></Response>')
    call_id = harness.create_call()
    harness.app.wait(lambda: harness.state(call_id)["state"] == "answered")
    url = f"/accounts/{ACCOUNT}/calls/{call_id}"
    response = harness.http.post(url, json={"redirectUrl": harness.app.url("/redirected"), "tag": "moved"})
    assert response.status_code == 200
    redirect = harness.app.wait_event("redirect")[0]
    assert redirect.path == "/redirected"
    replaced = harness.http.put(
        url + "/bxml",
        content='<?xml version="1.0" encoding="UTF-8"?>'
        "<Response><SpeakSentence>bye</SpeakSentence></Response>",
        headers={"Content-Type": "application/xml"},
    )
    assert replaced.status_code == 204
    harness.clock.time_scale = None
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "hangup"
    conflict = harness.http.post(url, json={"redirectUrl": harness.app.url("/redirected")})
    assert conflict.status_code == 409


def test_cancel_while_ringing(harness: Harness) -> None:
    harness.clock.time_scale = 1.0
    call_id = harness.create_call(to="+19995550002", callTimeout=60)
    harness.app.wait(lambda: harness.state(call_id)["state"] == "initiated")
    harness.http.post(f"/accounts/{ACCOUNT}/calls/{call_id}", json={"state": "completed"})
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "cancel"


def test_stream_and_transcription_events(harness: Harness, ws_app: WebsocketApp) -> None:
    harness.route_loopback()
    harness.app.reply(
        "/initiate",
        '<Response><Pause duration="1"/><SpeakSentence>order number five</SpeakSentence>'
        '<Pause duration="10"/></Response>',
    )
    harness.app.reply(
        "/answer",
        f'<Response><StartStream name="s1" tracks="both" destination="{ws_app.url("/ws")}" '
        'streamEventUrl="/stream"/>'
        f'<StartStream name="s1" destination="{ws_app.url("/ws")}" streamEventUrl="/stream"/>'
        '<StartTranscription name="live" transcriptionEventUrl="/rtt"/>'
        '<Pause duration="2"/><StopStream name="s1"/><StopTranscription/><Hangup/></Response>',
    )
    call_id = harness.create_call(to=LOOPBACK)
    harness.wait_ended(call_id)
    harness.app.wait_event("mediaStreamStopped")
    harness.app.wait_event("realTimeTranscriptionAvailable")
    stream = [h.event for h in harness.app.events("/stream")]
    assert stream == ["mediaStreamStarted", "mediaStreamRejected", "mediaStreamStopped"]
    rejected = harness.app.events("/stream")[1]
    assert rejected.body["cause"] == "duplicate"
    stopped = harness.app.events("/stream")[2]
    # The stream ran the clock at real time: its duration is the Pause, plus scheduling delays.
    assert 2.0 <= float(stopped.body["mediaStream"]["duration"][2:-1]) < 3.0
    assert stopped.body["mediaStream"]["tracks"] == ["inbound", "outbound"]
    rtt = [h.event for h in harness.app.events("/rtt")]
    assert rtt == [
        "realTimeTranscriptionStarted",
        "realTimeTranscriptionStopped",
        "realTimeTranscriptionAvailable",
    ]
    available = harness.app.events("/rtt")[2].body["realTimeTranscription"]
    transcript = harness.http.get(available["url"].replace(harness.sim.base_url, "")).json()
    assert transcript["tracks"][0]["transcript"] == "order number five"


def test_refer_reports_completion(harness: Harness) -> None:
    harness.app.reply(
        "/answer",
        '<Response><Refer referCompleteUrl="/referred"><SipUri>sip:agent@example.test</SipUri>'
        "</Refer></Response>",
    )
    harness.app.reply("/referred", "<Response><Hangup/></Response>")
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    referred = harness.app.wait_event("referComplete")[0]
    assert referred.body["referCallStatus"] == "success"
    assert referred.body["callId"] == call_id


def test_forward_hands_the_caller_to_another_number(harness: Harness) -> None:
    harness.route_loopback()
    harness.app.reply("/initiate", '<Response><Forward to="+19995550005"/></Response>')
    harness.app.reply("/answer", '<Response><Pause duration="60"/></Response>')
    call_id = harness.create_call(to=LOOPBACK)
    state = harness.wait_ended(call_id)
    assert state["disconnectCause"] == "hangup"
    assert harness.app.names().count("initiate") == 1
    inbound = harness.app.wait_event("initiate")[0].body["callId"]
    assert harness.wait_ended(inbound)["answerTime"]


def test_track_limit_and_duplicate_transcription_are_rejected(harness: Harness, ws_app: WebsocketApp) -> None:
    harness.app.reply(
        "/answer",
        # 2 + 2 tracks fill the call's four; a third stream is over the limit.
        f'<Response><StartStream name="a" tracks="both" destination="{ws_app.url("/a")}" '
        'streamEventUrl="/stream"/>'
        f'<StartStream name="b" tracks="both" destination="{ws_app.url("/b")}" streamEventUrl="/stream"/>'
        f'<StartStream name="c" destination="{ws_app.url("/c")}" streamEventUrl="/stream"/>'
        '<StartTranscription name="live" transcriptionEventUrl="/rtt"/>'
        '<StartTranscription name="live" transcriptionEventUrl="/rtt"/>'
        '<Pause duration="0.5"/><Hangup/></Response>',
    )
    call_id = harness.create_call()
    harness.wait_ended(call_id)
    harness.app.wait_event("mediaStreamStopped", count=2)
    harness.app.wait_event("realTimeTranscriptionStopped")
    streams = harness.app.events("/stream")
    rejected = [h for h in streams if h.event == "mediaStreamRejected"]
    assert len(rejected) == 1
    assert rejected[0].body["cause"] == "track-limit"
    assert rejected[0].body["mediaStream"]["name"] == "c"
    rtt = harness.app.events("/rtt")
    duplicate = [h for h in rtt if h.event == "realTimeTranscriptionRejected"]
    assert len(duplicate) == 1
    assert duplicate[0].body["cause"] == "duplicate"
    assert duplicate[0].body["originalTranscription"]["name"] == "live"
