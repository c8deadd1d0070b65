"""Conferences: the ``<Conference>`` verb, the room's media mix and its webhooks.

A :class:`ConferenceRoom` exists while its conference is active.  Its webhooks (created, member
join/exit, redirect, completed, recording available) and the conference BXML they return run one
after another on the room's own queue, never overlapping.  What a member's party says is relayed
to every other member (not to held members, not from muted or held ones; a coach is heard only by
the calls it coaches) and to the room's recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from conformance.simulator.clock import Mailbox
from conformance.simulator.engine import payloads
from conformance.simulator.engine.delivery import DeliveryError, Target, method_of, resolve
from conformance.simulator.engine.documents import Document, InvalidBxml, Verb, load
from conformance.simulator.engine.media import Sound
from conformance.simulator.engine.recording import Recorder, RecordingSpec, spec_from
from conformance.simulator.models import Callback, Conference, ConferenceMember, Recording

if TYPE_CHECKING:
    from conformance.simulator.engine.core import Engine
    from conformance.simulator.engine.leg import Leg

log = logging.getLogger(__name__)
MAX_MEMBERS = 20

_Job = Callable[[], Coroutine[Any, Any, None]] | None


class Membership:
    """One call in a room, until it leaves."""

    def __init__(self, room: ConferenceRoom, leg: Leg, member: ConferenceMember) -> None:
        self.room = room
        self.leg = leg
        self.member = member
        self.left: Mailbox[str] = Mailbox(leg.clock)
        self.active = True

    def leave(self) -> None:
        """Leave the room (idempotent): memberExit, and the room completes when it is empty."""
        if not self.active:
            return
        self.active = False
        if self.leg.membership is self:
            self.leg.membership = None
        self.room.member_left(self)
        self.left.put("left")


class ConferenceRoom:
    """The run-time side of an active :class:`~conformance.simulator.models.Conference`."""

    def __init__(self, engine: Engine, conference: Conference, anchor: Leg, timeout: float) -> None:
        self.engine = engine
        self.clock = engine.clock
        self.store = engine.store
        self.conference = conference
        self.anchor = anchor
        self.timeout = timeout
        self.members: dict[str, Membership] = {}
        self.sounds: list[Sound] = []
        self.recorder: Recorder | None = None
        self._jobs: Mailbox[_Job] = Mailbox(self.clock)
        self._worker = engine.spawn(self._work(), name=f"conference-{conference.id}")
        self.document_url: str | None = None

    # ------------------------------------------------------------------------------ events

    def base(self, event_time: Any = None) -> dict[str, Any]:
        conf = self.conference
        return {
            "eventTime": payloads.iso(event_time or self.clock.now()),
            "conferenceId": conf.id,
            "name": conf.name,
            "tag": conf.tag or None,
            "accountId": conf.account_id,
        }

    @property
    def target(self) -> Target | None:
        return Target.from_callback(self.conference.event)

    def _enqueue(self, job: _Job) -> None:
        self._jobs.put(job)

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            if job is None:
                self._jobs.close()
                return
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken event must not stop the room
                log.exception("conference %s job failed", self.conference.id)

    def event(self, name: str, target: Target | None = None, **extra: Any) -> None:
        """Queue a webhook; if it takes BXML, run the reply in the conference context."""
        target = target or self.target
        if target is None:
            return
        body = payloads.shape(name, {**self.base(), **extra})
        takes_bxml = name not in ("conferenceCompleted", "conferenceRecordingAvailable")

        async def job() -> None:
            try:  # only the asynchronous events get the one retry after a connection error
                reply = await self.engine.deliver(
                    None, name, target, body, self.timeout, retry=not takes_bxml
                )
            except DeliveryError:
                return
            if not takes_bxml:
                return
            try:
                document = load(reply.body, "conference", reply.url)
            except InvalidBxml as exc:
                log.info("conference %s: %s", self.conference.id, exc)
                return
            await self.run_document(document)

        self._enqueue(job)

    def run_bxml(self, document: Document) -> None:
        async def job() -> None:
            await self.run_document(document)

        self._enqueue(job)

    async def run_document(self, document: Document) -> None:
        for verb in document.verbs:
            if not self.conference.active:
                return
            with contextlib.suppress(Exception):
                await self._verb(verb, document)

    async def _verb(self, verb: Verb, document: Document) -> None:
        from conformance.simulator.engine.verbs import fetch_audio, speech_of

        if verb.name == "SpeakSentence":
            text = speech_of(verb)
            await self.play(Sound(self.clock.time(), text[1], "speech", text[0]))
        elif verb.name == "PlayAudio":
            url = resolve(document.base_url, verb.text)
            if url is not None:
                info = await fetch_audio(self.engine, url, verb.get("username"), verb.get("password"))
                await self.play(Sound(self.clock.time(), info.duration, "audio", url, info.pcm))
        elif verb.name == "StartRecording":
            if self.recorder is None:
                asked = spec_from(verb, document.base_url)
                spec = RecordingSpec(file_format=asked.file_format, available=asked.available)

                def done(recording: Recording, _text: str) -> None:
                    self._recording_done(recording, spec)

                self.recorder = Recorder(
                    self.anchor,
                    spec,
                    sources=lambda: [self.sounds],
                    on_finish=done,
                    conference_id=self.conference.id,
                )
        elif verb.name == "PauseRecording" and self.recorder is not None:
            self.recorder.pause()
        elif verb.name == "ResumeRecording" and self.recorder is not None:
            self.recorder.resume()
        elif verb.name == "StopRecording" and self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            recorder.finish()

    def _recording_done(self, recording: Recording, spec: RecordingSpec) -> None:
        target = spec.available or self.target
        extra = payloads.recording_fields(recording, self.engine.base_url)
        self.event("conferenceRecordingAvailable", target, **extra)

    # ------------------------------------------------------------------------------ media

    async def play(self, sound: Sound) -> None:
        self.sounds.append(sound)
        for membership in list(self.members.values()):
            if not membership.member.hold:
                membership.leg.send(sound)
        await self.clock.sleep(sound.duration)

    def relay(self, speaker: Leg, sound: Sound) -> None:
        me = self.members.get(speaker.id)
        if me is None or me.member.mute or me.member.hold:
            return
        self.sounds.append(sound)
        coached = me.member.call_ids_to_coach or None
        for call_id, other in list(self.members.items()):
            if call_id == speaker.id or other.member.hold:
                continue
            if coached is not None and call_id not in coached:
                continue
            other.leg.send(sound)

    # ------------------------------------------------------------------------------ members

    def join(self, leg: Leg, verb: Verb) -> Membership:
        coach = [c.strip() for c in (verb.get("callIdsToCoach") or "").split(",") if c.strip()]
        member = ConferenceMember(
            call_id=leg.id,
            conference_id=self.conference.id,
            mute=verb.flag("mute"),
            hold=verb.flag("hold"),
            call_ids_to_coach=coach or None,
        )
        self.store.add_member(self.conference, member)
        membership = Membership(self, leg, member)
        self.members[leg.id] = membership
        leg.membership = membership
        self.event("conferenceMemberJoin", **self._member_fields(leg))
        return membership

    def _member_fields(self, leg: Leg) -> dict[str, Any]:
        return {"callId": leg.id, "from": leg.call.from_, "to": leg.call.to}

    def member_left(self, membership: Membership) -> None:
        self.members.pop(membership.leg.id, None)
        self.store.remove_member(self.conference, membership.leg.id)
        self.event("conferenceMemberExit", **self._member_fields(membership.leg))
        if not self.members:
            self.complete()

    def complete(self) -> None:
        """End the conference: members leave, the recording stops, conferenceCompleted follows."""
        if not self.conference.active:
            return
        for membership in list(self.members.values()):
            membership.leave()
            if not self.conference.active:
                return
        if self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            recorder.finish()
        self.store.complete_conference(self.conference)
        self.event("conferenceCompleted")
        self._enqueue(None)
        self.engine.rooms.pop(self.conference.id, None)


def _event_callback(verb: Verb, base: str | None) -> Callback:
    return Callback(
        url=resolve(base, verb.get("conferenceEventUrl")),
        method=method_of(verb.get("conferenceEventMethod")),
        username=verb.get("username"),
        password=verb.get("password"),
        fallback_url=resolve(base, verb.get("conferenceEventFallbackUrl")),
        fallback_method=method_of(verb.get("conferenceEventFallbackMethod")),
        fallback_username=verb.get("fallbackUsername"),
        fallback_password=verb.get("fallbackPassword"),
    )


async def conference_verb(leg: Leg, verb: Verb, doc: Document) -> Document | None:
    """``<Conference>``: join (creating it if needed) and stay until leaving; then continue."""
    engine = leg.engine
    name = verb.text
    existing = engine.store.conference_by_name(leg.call.account_id, name)
    room = engine.rooms.get(existing.id) if existing is not None else None
    if room is None:
        conference = engine.store.add_conference(leg.call.account_id, name)
        conference.event = _event_callback(verb, doc.base_url)
        tag = verb.get("tag")
        conference.tag = (tag if tag is not None else leg.call.tag) or None
        room = ConferenceRoom(engine, conference, leg, verb.number("callbackTimeout", leg.callback_timeout))
        engine.rooms[conference.id] = room
        room.event("conferenceCreated")
    if len(room.members) >= MAX_MEMBERS:
        return None
    membership = room.join(leg, verb)
    try:
        await membership.left.get()
    finally:
        membership.left.close()
        if membership.active and not leg.done:
            membership.leave()
    return None


__all__ = ["MAX_MEMBERS", "ConferenceRoom", "Membership", "conference_verb"]
