"""The example agent hears DTMF in the PCMU it is streamed and answers each digit with its tone."""

from __future__ import annotations

import asyncio
import base64
import json

from websockets.asyncio.client import connect

from conformance.streams import audio
from conformance.streams.protocol import check_app_message, decode_payload

from .agents import agent_module, serving


def _start(stream_id: str, track: str = "inbound") -> str:
    tracks = [{"name": track, "mediaFormat": {"encoding": "audio/PCMU", "sampleRate": 8000}}]
    metadata = {
        "accountId": "9900000",
        "callId": "c-1",
        "streamId": stream_id,
        "streamName": "a",
        "tracks": tracks,
    }
    return json.dumps({"eventType": "start", "metadata": metadata, "streamParams": {}})


async def _call(url: str, pcmu: bytes, stream_id: str) -> list[str | bytes]:
    replies: list[str | bytes] = []
    async with connect(url, proxy=None) as socket:
        await socket.send(_start(stream_id))
        for at in range(0, len(pcmu), audio.FRAME_BYTES):
            frame = base64.b64encode(pcmu[at : at + audio.FRAME_BYTES]).decode()
            await socket.send(json.dumps({"eventType": "media", "track": "inbound", "payload": frame}))
        await socket.send(json.dumps({"eventType": "stop"}))
        async for message in socket:  # the agent closes after stop
            replies.append(message)
    return replies


def test_the_agent_transcribes_digits_and_answers_each_with_its_tone() -> None:
    agent = agent_module.Agent()
    speech = audio.silence(0.3) + audio.dtmf("1#90") + audio.tones([440], 0.3) + audio.dtmf("7")
    with serving(agent) as url:
        replies = asyncio.run(_call(url, speech, "s-digits"))
    assert agent.heard["s-digits"] == "1#907"
    assert len(replies) == 5
    assert all(check_app_message(reply) is None for reply in replies)
    first = decode_payload(json.loads(replies[0])["media"]["payload"]) or b""
    row, column = audio.DTMF_FREQUENCIES["1"]
    assert audio.tone_share(first, row) > 0.3
    assert audio.tone_share(first, column) > 0.3


def test_the_agent_hears_nothing_in_noise_music_or_silence() -> None:
    agent = agent_module.Agent()
    scene = (
        audio.silence(0.5) + audio.tones([440, 880], 0.5) + bytes(range(256)) * 20 + audio.tones([1000], 0.4)
    )
    with serving(agent) as url:
        replies = asyncio.run(_call(url, scene, "s-quiet"))
    assert agent.heard["s-quiet"] == ""
    assert replies == []


def test_a_listen_only_agent_never_sends() -> None:
    agent = agent_module.Agent(answer=False)
    with serving(agent) as url:
        replies = asyncio.run(_call(url, audio.dtmf("55"), "s-listen"))
    assert agent.heard["s-listen"] == "55"
    assert replies == []
