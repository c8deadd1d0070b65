"""Recordings: ``<Record>``, ``<StartRecording>`` and friends, conference recordings, transcription.

A recording is a set of (virtual) time intervals over a leg's media timelines; paused time is not
in any interval.  When it ends, the intervals are rendered into a real WAV (or MP3) whose length
is the recording's ``duration``, stored with the recording, and the webhooks follow:
``recordingAvailable`` (``conferenceRecordingAvailable``), then ``transcriptionAvailable`` when a
transcription was asked for.  The transcription's text is what the other side said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance.simulator.engine import payloads
from conformance.simulator.engine.delivery import Target, method_of, resolve
from conformance.simulator.engine.documents import Document, Verb
from conformance.simulator.engine.media import RATE, Sound, render, wav_bytes
from conformance.simulator.models import Recording, Transcription

if TYPE_CHECKING:
    from conformance.simulator.clock import VirtualClock
    from conformance.simulator.engine.leg import Leg
    from conformance.simulator.store import Store

MIN_TRANSCRIBE_SECONDS = 0.5
# The media of a recording holds at most its first 3 hours (Record's longest maxDuration), so a
# StartRecording left running for simulated days cannot make a file of gigabytes; its duration
# still says how long it ran.
MAX_RENDERED_SECONDS = 10800.0


def _first(intervals: list[tuple[float, float]], seconds: float) -> list[tuple[float, float]]:
    """The intervals cut after ``seconds`` in all."""
    kept: list[tuple[float, float]] = []
    for begin, end in intervals:
        if seconds <= 0:
            break
        kept.append((begin, min(end, begin + seconds)))
        seconds -= end - begin
    return kept


def silent_mp3(seconds: float) -> bytes:
    """A valid MPEG-2.5 layer III mono stream (8 kHz, 8 kbit/s) of silent frames lasting ``seconds``.

    The simulator has no MP3 encoder, so MP3 recordings have the right length but carry silence.
    """
    frame = bytes((0xFF, 0xE3, 0x18, 0xC0)) + bytes(68)  # 72-byte frames of 576 samples, no side data
    count = round(seconds * RATE / 576)
    return frame * count


@dataclass
class RecordingSpec:
    """How a recording is kept and announced (from the verb's attributes)."""

    file_format: str = "wav"
    multichannel: bool = False
    transcribe: bool = False
    available: Target | None = None
    transcription: Target | None = None
    tag: str | None = None


def spec_from(verb: Verb, base: str | None) -> RecordingSpec:
    username, password = verb.get("username"), verb.get("password")

    def target(url_attr: str, method_attr: str) -> Target | None:
        url = resolve(base, verb.get(url_attr))
        return None if url is None else Target(url, method_of(verb.get(method_attr)), username, password)

    transcription = target("transcriptionAvailableUrl", "transcriptionAvailableMethod")
    available = target("recordingAvailableUrl", "recordingAvailableMethod")
    return RecordingSpec(
        file_format="mp3" if (verb.get("fileFormat") or "").lower() == "mp3" else "wav",
        multichannel=verb.flag("multiChannel"),
        transcribe=verb.flag("transcribe"),
        available=available,
        transcription=transcription or available,
        tag=verb.get("tag"),
    )


def spoken_text(sounds: list[Sound], intervals: list[tuple[float, float]]) -> str:
    said = [
        s.data for s in sounds if s.kind == "speech" and any(s.start < b and s.end > a for a, b in intervals)
    ]
    return " ".join(said)


class Recorder:
    """One recording in progress over a leg's timelines (or a conference's, via ``sources``)."""

    def __init__(
        self,
        leg: Leg,
        spec: RecordingSpec,
        *,
        sources: Callable[[], list[list[Sound]]] | None = None,
        on_finish: Callable[[Recording, str], None] | None = None,
        conference_id: str | None = None,
    ) -> None:
        self.leg = leg
        self.clock = leg.clock
        self.spec = spec
        self.sources = sources or (lambda: [leg.heard, leg.played])
        self.on_finish = on_finish
        self.conference_id = conference_id
        self.recording_id = leg.store.new_recording_id()
        self.started = self.clock.now()
        self.intervals: list[tuple[float, float]] = []
        self._open: float | None = self.clock.time()
        self.finished = False

    @property
    def paused(self) -> bool:
        return self._open is None and not self.finished

    def pause(self) -> None:
        if self._open is not None:
            self.intervals.append((self._open, self.clock.time()))
            self._open = None

    def resume(self) -> None:
        if self._open is None and not self.finished:
            self._open = self.clock.time()

    def finish(self, *, notify: bool = True) -> tuple[Recording, str] | None:
        """Stop, store the media and (unless ``notify`` is false) send the webhooks."""
        if self.finished:
            return None
        self.pause()
        self.finished = True
        if self.leg.recorder is self:
            self.leg.recorder = None
        if self.leg.active_record is self:
            self.leg.active_record = None
        recording, text = save(
            self.leg,
            self.spec,
            self.intervals,
            self.sources(),
            self.recording_id,
            self.started,
            conference_id=self.conference_id,
        )
        if notify:
            if self.on_finish is not None:
                self.on_finish(recording, text)
            else:
                announce(self.leg, recording, self.spec, text)
        return recording, text


def save(
    leg: Leg,
    spec: RecordingSpec,
    intervals: list[tuple[float, float]],
    sources: list[list[Sound]],
    recording_id: str,
    started: Any,
    *,
    conference_id: str | None = None,
) -> tuple[Recording, str]:
    """Render and store a recording; returns it and the text the other side said in it."""
    duration = sum(b - a for a, b in intervals)
    channels = 2 if spec.multichannel and conference_id is None else 1
    rendered = _first(intervals, MAX_RENDERED_SECONDS)
    if spec.file_format == "mp3":
        media = silent_mp3(min(duration, MAX_RENDERED_SECONDS))
    elif channels == 2:
        media = wav_bytes([render(rendered, sources[0]), render(rendered, sources[1])])
    else:
        merged = sorted((s for source in sources for s in source), key=lambda s: s.start)
        media = wav_bytes([render(rendered, merged)])
    call = leg.call
    store = leg.store
    recording = Recording(
        account_id=call.account_id,
        recording_id=recording_id,
        call_id=None if conference_id else call.call_id,
        conference_id=conference_id,
        application_id=None if conference_id else call.application_id,
        parent_call_id=None if conference_id else call.parent_call_id,
        to=None if conference_id else call.to,
        from_=None if conference_id else call.from_,
        transfer_caller_id=None if conference_id else leg.transfer_fields.get("transferCallerId"),
        transfer_to=None if conference_id else leg.transfer_fields.get("transferTo"),
        direction=None if conference_id else call.direction,
        channels=channels,
        start_time=started,
        end_time=leg.clock.now(),
        duration_seconds=round(duration, 3),
        file_format="mp3" if spec.file_format == "mp3" else "wav",
        status="complete",
        media=media,
        state="stopped",
    )
    store.add_recording(recording)
    text = spoken_text(sources[0], intervals)
    texts = leg.engine.recording_texts
    texts[recording_id] = text
    if len(texts) > len(store.recordings) + 64:  # forget the texts of recordings the store forgot
        for stale in [key for key in texts if key not in store.recordings]:
            del texts[stale]
    return recording, text


def _recording_extra(leg: Leg, recording: Recording) -> dict[str, Any]:
    return payloads.recording_fields(recording, leg.engine.base_url)


def transcribe(store: Store, clock: VirtualClock, recording: Recording, text: str) -> Transcription:
    """Attach a finished transcription to ``recording`` (status ``error`` when too short)."""
    ok = recording.duration_seconds > MIN_TRANSCRIBE_SECONDS
    transcription = recording.transcription or Transcription(id=store.new_recording_transcription_id())
    transcription.status = "available" if ok else "error"
    transcription.completed_time = clock.now()
    transcription.text = text if ok else ""
    transcription.confidence = 0.9 if ok and text else 0.0
    recording.transcription = transcription
    return transcription


def transcription_json(base_url: str, recording: Recording) -> dict[str, Any]:
    """The ``transcription`` object of transcriptionAvailable: where the transcript is."""
    url = payloads.transcription_url(base_url, recording)
    transcription = recording.transcription
    if transcription is None:
        return {"status": "none", "url": url}
    return {
        "id": transcription.id,
        "status": transcription.status,
        "completedTime": payloads.iso(transcription.completed_time),
        "url": url,
    }


def announce(leg: Leg, recording: Recording, spec: RecordingSpec, text: str) -> None:
    """recordingAvailable, then transcriptionAvailable when asked (leg's async queue)."""
    extra = _recording_extra(leg, recording)
    if spec.tag is not None:
        extra["tag"] = spec.tag or None
    leg.post("recordingAvailable", spec.available, **extra)
    if spec.transcribe:
        transcribe(leg.store, leg.clock, recording, text)
        extra.pop("status", None)
        extra["transcription"] = transcription_json(leg.engine.base_url, recording)
        leg.post("transcriptionAvailable", spec.transcription, **extra)


# ------------------------------------------------------------------------------------ verbs


def _silence_deadline(heard: list[Sound], since: float, silence: float) -> float:
    last = max((s.end for s in heard if s.end > since), default=since)
    return last + silence


async def record_verb(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    """``<Record>``: record until a terminating digit, maxDuration or silenceTimeout.

    If the call ends while recording, the leg finishes the recording (recordingAvailable only).
    """
    base = doc.base_url
    spec = spec_from(verb, base)
    terminators = verb.get("terminatingDigits", "#") or ""
    max_duration = verb.number("maxDuration", 60.0)
    silence = verb.number("silenceTimeout", 0.0)
    clock = leg.clock
    recorder = Recorder(leg, spec)
    leg.active_record = recorder
    begin = clock.time()
    end = begin + max_duration
    box = leg.listen()
    try:
        while True:
            now = clock.time()
            limit = end - now
            if silence > 0:
                limit = min(limit, _silence_deadline(leg.heard, begin, silence) - now)
            if limit <= 0:
                break
            try:
                sound = await clock.wait_for(box.get(), limit)
            except TimeoutError:
                continue
            if sound.kind == "dtmf" and sound.data and sound.data in terminators:
                break
    finally:
        leg.unlisten(box)
    finished = recorder.finish(notify=False)
    if finished is None:
        return None
    recording, text = finished
    complete_url = resolve(base, verb.get("recordCompleteUrl"))
    if complete_url is None:
        announce(leg, recording, spec, text)
        return None
    target = Target(
        complete_url,
        method_of(verb.get("recordCompleteMethod")),
        verb.get("username"),
        verb.get("password"),
        resolve(base, verb.get("recordCompleteFallbackUrl")),
        method_of(verb.get("recordCompleteFallbackMethod")),
        verb.get("fallbackUsername"),
        verb.get("fallbackPassword"),
    )
    extra = _recording_extra(leg, recording)
    extra.pop("status", None)
    try:
        return await leg.fetch("recordComplete", target, "call", **extra)
    finally:
        announce(leg, recording, spec, text)


def start_recording(leg: Leg, verb: Verb, doc: Document) -> None:
    if leg.recorder is not None:
        return  # only one recording at a time; a second StartRecording is ignored
    leg.recorder = Recorder(leg, spec_from(verb, doc.base_url))


def pause_recording(leg: Leg) -> None:
    if leg.recorder is not None:
        leg.recorder.pause()


def resume_recording(leg: Leg) -> None:
    if leg.recorder is not None:
        leg.recorder.resume()


def stop_recording(leg: Leg) -> None:
    if leg.recorder is not None:
        leg.recorder.finish()


__all__ = [
    "Recorder",
    "RecordingSpec",
    "announce",
    "pause_recording",
    "record_verb",
    "resume_recording",
    "save",
    "silent_mp3",
    "spec_from",
    "spoken_text",
    "start_recording",
    "stop_recording",
    "transcribe",
    "transcription_json",
]
