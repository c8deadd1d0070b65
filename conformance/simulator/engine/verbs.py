"""The BXML interpreter: runs a document verb by verb on a leg.

Each handler returns ``None`` to go on with the next verb, or a :class:`Document` (the BXML an app
returned to a webhook) that replaces the rest of the current one.  Inbound calls are answered by
the first verb that needs an answered call.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import httpx

from conformance.simulator.engine import bridging, conference, extras, recording
from conformance.simulator.engine.delivery import Target, method_of, resolve
from conformance.simulator.engine.documents import Document, Verb
from conformance.simulator.engine.media import (
    AudioCache,
    AudioInfo,
    Sound,
    decode_audio,
    speech_seconds,
)

if TYPE_CHECKING:
    from conformance.simulator.clock import Mailbox, VirtualClock
    from conformance.simulator.engine.core import Engine
    from conformance.simulator.engine.leg import Leg

Handler = Callable[["Leg", Verb, Document], Awaitable[Document | None]]
T = TypeVar("T")

# Verbs that do not answer an inbound call by themselves.
_NOT_ANSWERING = frozenset({"Tag", "Hangup", "Forward", "Redirect", "Ring"})
# Verbs whose ``tag`` attribute is not the call's tag.
_OWN_TAG = frozenset({"Conference"})
_CACHE_AGE = re.compile(r"max-age\s*=\s*(\d+)")


def target_from(
    verb: Verb, base: str | None, url_attr: str, method_attr: str, fallback_url: str, fallback_method: str
) -> Target | None:
    url = resolve(base, verb.get(url_attr))
    if url is None:
        return None
    return Target(
        url,
        method_of(verb.get(method_attr)),
        verb.get("username"),
        verb.get("password"),
        resolve(base, verb.get(fallback_url)),
        method_of(verb.get(fallback_method)),
        verb.get("fallbackUsername"),
        verb.get("fallbackPassword"),
    )


async def interpret(leg: Leg, document: Document) -> Document | None:
    """Run ``document``; the document that replaces it, or ``None`` when it ran to its end."""
    for verb in document.verbs:
        if leg.done:
            return None
        handler = HANDLERS.get(verb.name)
        if handler is None:
            continue  # validated documents only hold known verbs; nothing else to do
        if verb.name not in _NOT_ANSWERING or (verb.name == "Ring" and verb.flag("answerCall", True)):
            leg.answer()
        tag = verb.get("tag")
        if tag is not None and verb.name not in _OWN_TAG:
            leg.set_tag(tag)
        following = await handler(leg, verb, document)
        if following is not None:
            return following
    return None


# ------------------------------------------------------------------------------ audio out


def speech_of(verb: Verb) -> tuple[str, float]:
    text = verb.text
    return text, speech_seconds(text)


_SILENT = AudioInfo(0.0, None, "unknown")


async def fetch_audio(engine: Engine, url: str, username: str | None, password: str | None) -> AudioInfo:
    """Fetch a PlayAudio file (cached when the server allows it); silence if it cannot be had.

    Bounded by the engine's :class:`MediaLimits`: size, a total real-time deadline, decoding in a
    worker thread, and a short hold of the virtual clock (see :func:`_held_briefly`).
    """
    cache = engine.audio_cache
    cached = cache.get(url, engine.clock.time())
    if cached is not None:
        return cached
    if not engine.deliverer.egress.allows(url):
        return _SILENT
    auth = httpx.BasicAuth(username, password or "") if username else None
    fetch = asyncio.ensure_future(_fetch_and_decode(engine.http(), url, auth, cache))
    fetched = await _held_briefly(engine.clock, fetch, cache.limits.hold)
    if fetched is None:
        return _SILENT
    info, max_age = fetched
    if max_age > 0:
        cache.put(url, info, AudioCache.cost(info), expires=engine.clock.time() + max_age)
    return info


async def _held_briefly(clock: VirtualClock, task: asyncio.Future[T], seconds: float) -> T:
    """``task``'s result; the virtual clock stands still for its first ``seconds`` (real) only.

    A media server that answers at once thus keeps timestamps exact (nothing happens elsewhere
    while the file arrives), and one that dawdles lets every other call's time go on.
    """
    clock.hold()
    try:
        await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        clock.release()
    return await task  # cancelling the caller cancels the fetch too


async def _fetch_and_decode(
    http: httpx.AsyncClient, url: str, auth: httpx.Auth | None, cache: AudioCache
) -> tuple[AudioInfo, int] | None:
    """The decoded file and its cache lifetime (seconds, 0: not cacheable); ``None`` when the
    server fails, the file is too big, or the deadline passes first."""
    held = [0]  # bytes this fetch counts in ``cache.in_flight``
    try:
        async with asyncio.timeout(cache.limits.deadline):
            chunks, headers = await _fetch(http, url, auth, cache, held)
            if chunks is None:
                return None
            info = await asyncio.to_thread(_decode, chunks, headers.get("content-type", ""), url)
    except (TimeoutError, httpx.HTTPError):
        return None
    finally:
        cache.in_flight -= held[0]
    age = _CACHE_AGE.search(headers.get("cache-control", ""))
    return info, int(age.group(1)) if age is not None and len(age.group(1)) < 10 else 0


def _decode(chunks: list[bytes], content_type: str, url: str) -> AudioInfo:
    # Joined here, in the worker thread: copying a big body takes a while (without the GIL).
    return decode_audio(b"".join(chunks), content_type, url)


async def _fetch(
    http: httpx.AsyncClient, url: str, auth: httpx.Auth | None, cache: AudioCache, held: list[int]
) -> tuple[list[bytes] | None, httpx.Headers]:
    """The body of a 200 answer within the size limits (``None`` otherwise), streamed."""
    limits = cache.limits
    headers = {"Accept-Encoding": "identity"}
    async with http.stream("GET", url, auth=auth, timeout=limits.deadline, headers=headers) as response:
        declared = response.headers.get("content-length", "")
        if response.status_code != 200 or (declared.isdigit() and int(declared) > limits.max_bytes):
            return None, response.headers
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limits.max_bytes or not cache.reserve(len(chunk)):
                return None, response.headers
            held[0] += len(chunk)
            chunks.append(chunk)
    return chunks, response.headers


async def _prompt(leg: Leg, verb: Verb, base: str | None) -> Sound | None:
    """Start playing a SpeakSentence or PlayAudio to the party (the caller waits for it)."""
    if verb.name == "SpeakSentence":
        text, seconds = speech_of(verb)
        return leg.play("speech", seconds, text)
    if verb.name == "PlayAudio":
        url = resolve(base, verb.text)
        if url is None:
            return None
        info = await fetch_audio(leg.engine, url, verb.get("username"), verb.get("password"))
        return leg.play("audio", info.duration, url, info.pcm)
    return None


async def speak_sentence(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    sound = await _prompt(leg, verb, doc.base_url)
    if sound is not None:
        await leg.clock.sleep(sound.duration)
    return None


async def pause(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    await leg.clock.sleep(verb.number("duration", 1.0))
    return None


async def ring(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    await leg.clock.sleep(verb.number("duration", 5.0))
    return None


async def send_dtmf(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    tone = verb.number("toneDuration", 200.0) / 1000
    gap = verb.number("toneInterval", 400.0) / 1000
    digits = verb.text.replace(" ", "")
    for index, char in enumerate(digits):
        if char in ",w":
            await leg.clock.sleep(0.5)
            continue
        if char == "W":
            await leg.clock.sleep(1.0)
            continue
        leg.play("dtmf", tone, char.upper())
        await leg.clock.sleep(tone)
        following = digits[index + 1] if index + 1 < len(digits) else None
        if following is not None and following not in ",wW":
            await leg.clock.sleep(gap)
    return None


async def hangup(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    leg.hangup("hangup")
    return None


async def tag(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    leg.set_tag(verb.text)
    return None


async def redirect(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    target = target_from(
        verb, doc.base_url, "redirectUrl", "redirectMethod", "redirectFallbackUrl", "redirectFallbackMethod"
    )
    if target is None:
        return None
    return await leg.fetch("redirect", target, "call")


# ------------------------------------------------------------------------------ input


async def _next_input(leg: Leg, box: Mailbox[Sound], seconds: float, kinds: frozenset[str]) -> Sound | None:
    """The next DTMF digit or utterance within ``seconds``; ``None`` when none came."""
    deadline = leg.clock.time() + seconds
    while True:
        remaining = deadline - leg.clock.time()
        if remaining <= 0:
            return None
        try:
            sound = await leg.clock.wait_for(box.get(), remaining)
        except TimeoutError:
            return None
        if sound.kind in kinds:
            return sound


async def gather(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    """``<Gather>``: prompts (interrupted by input), then digits until a termination condition."""
    target = target_from(
        verb, doc.base_url, "gatherUrl", "gatherMethod", "gatherFallbackUrl", "gatherFallbackMethod"
    )
    terminators = verb.get("terminatingDigits") or ""
    max_digits = max(1, int(verb.number("maxDigits", 50)))
    inter = verb.number("interDigitTimeout", 5.0)
    first = verb.number("firstDigitTimeout", 5.0)
    repeat = max(1, int(verb.number("repeatCount", 1)))
    mode = (verb.get("input") or "dtmf").lower()
    kinds = frozenset(k for k, on in (("dtmf", "dtmf" in mode), ("speech", "speech" in mode)) if on)
    digits, terminating = "", ""
    box = leg.listen()
    leg.gathering = True
    try:
        pending: Sound | None = None
        for _ in range(repeat):
            for child in verb.children:
                sound = await _prompt(leg, child, doc.base_url)
                if sound is None:
                    continue
                pending = await _next_input(leg, box, sound.end - leg.clock.time(), kinds)
                if pending is not None:
                    break
            if pending is not None:
                break
        while True:
            sound = pending or await _next_input(leg, box, inter if digits else first, kinds)
            pending = None
            if sound is None:
                break
            if sound.kind == "speech":  # an utterance ends a speech gather once it is over
                await leg.clock.sleep(max(0.0, sound.end - leg.clock.time()))
                break
            if sound.data in terminators:
                terminating = sound.data
                break
            digits += sound.data
            if len(digits) >= max_digits:
                break
    finally:
        leg.gathering = False
        leg.unlisten(box)
    if target is None:
        return None
    return await leg.fetch("gather", target, "call", digits=digits, terminatingDigit=terminating)


async def start_gather(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    target = Target(
        resolve(doc.base_url, verb.get("dtmfUrl")) or "",
        method_of(verb.get("dtmfMethod")),
        verb.get("username"),
        verb.get("password"),
    )
    _stop_gather(leg)
    if not target.url:
        return None
    box = leg.listen()

    async def listen() -> None:
        try:
            while True:
                sound = await box.get()
                if sound.kind == "dtmf" and not leg.gathering:
                    leg.post("dtmf", target, digit=sound.data)
        finally:
            leg.unlisten(box)

    leg.gather_task = leg.spawn(listen(), name=f"start-gather-{leg.id}")
    return None


def _stop_gather(leg: Leg) -> None:
    task = leg.gather_task
    leg.gather_task = None
    if task is not None and not task.done():
        task.cancel()


async def stop_gather(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    _stop_gather(leg)
    return None


# ------------------------------------------------------------------------------ recording


async def record(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    return await recording.record_verb(leg, verb, doc)


async def start_recording(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    recording.start_recording(leg, verb, doc)
    return None


async def pause_recording(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    recording.pause_recording(leg)
    return None


async def resume_recording(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    recording.resume_recording(leg)
    return None


async def stop_recording(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    recording.stop_recording(leg)
    return None


HANDLERS: dict[str, Handler] = {
    "SpeakSentence": speak_sentence,
    "PlayAudio": speak_sentence,
    "Pause": pause,
    "Ring": ring,
    "SendDtmf": send_dtmf,
    "Hangup": hangup,
    "Tag": tag,
    "Redirect": redirect,
    "Gather": gather,
    "StartGather": start_gather,
    "StopGather": stop_gather,
    "Record": record,
    "StartRecording": start_recording,
    "PauseRecording": pause_recording,
    "ResumeRecording": resume_recording,
    "StopRecording": stop_recording,
    "Conference": conference.conference_verb,
    "Transfer": bridging.transfer_verb,
    "Bridge": bridging.bridge_verb,
    "Forward": bridging.forward_verb,
    "Refer": extras.refer_verb,
    "StartStream": extras.start_stream,
    "StopStream": extras.stop_stream,
    "StartTranscription": extras.start_transcription,
    "StopTranscription": extras.stop_transcription,
}

__all__ = ["HANDLERS", "fetch_audio", "interpret", "speech_of", "target_from"]
