"""A small real :class:`~conformance.simulator.models.CallEngine`: call state without webhooks.

A created call goes ``queued`` -> ``initiated`` at once and ``answered`` one simulated second
later (instant on the virtual clock).  ``updateCall state=completed`` ends it: ``hangup`` when it
was answered, ``cancel`` before.  Redirects and BXML replacement are accepted on an answered call
and refused with 409 before it is answered; conference, member, recording and transcription
requests update the records directly.  No webhook is sent and no BXML runs: the full call engine
(``simulator/engine/``) does that.  This engine lets the REST layer stand on its own.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from conformance.simulator.clock import VirtualClock
from conformance.simulator.models import (
    Call,
    Callback,
    Clock,
    Conference,
    ConferenceMember,
    EngineRejected,
    Recording,
)
from conformance.simulator.store import Store

__all__ = ["RING_SECONDS", "LifecycleEngine"]

RING_SECONDS = 1.0


class LifecycleEngine:
    """Drives calls through queued -> initiated -> answered -> disconnected on the clock."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """Nothing to prepare; present so the app's lifespan treats every engine alike."""

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _sleep(self, seconds: float) -> None:
        if isinstance(self.clock, VirtualClock):
            await self.clock.sleep(seconds)
        else:
            await asyncio.sleep(seconds)

    async def _place(self, call: Call) -> None:
        try:
            now = self.clock.now()
            self.store.update_call(call.call_id, state="initiated", start_time=now)
            await self._sleep(RING_SECONDS)
            if not call.ended:
                self.store.update_call(call.call_id, state="answered", answer_time=self.clock.now())
        finally:
            self._tasks.pop(call.call_id, None)

    def call_created(self, call: Call) -> None:
        if isinstance(self.clock, VirtualClock):
            task = self.clock.spawn(self._place(call), name=f"lifecycle-{call.call_id}")
        else:
            task = asyncio.get_running_loop().create_task(self._place(call))
        self._tasks[call.call_id] = task

    def _require_answered(self, call: Call) -> None:
        if call.state != "answered":
            raise EngineRejected(409, f"Call [{call.call_id}] cannot be modified in its current state")

    def call_redirected(self, call: Call, redirect: Callback) -> None:
        self._require_answered(call)

    def call_completed(self, call: Call) -> None:
        if call.ended:
            return
        task = self._tasks.pop(call.call_id, None)
        if task is not None:
            task.cancel()
        cause = "hangup" if call.state == "answered" else "cancel"
        now = self.clock.now()
        self.store.update_call(call.call_id, state="disconnected", end_time=now, disconnect_cause=cause)
        for conference in self.store.conferences.values():
            conference.members.pop(call.call_id, None)

    def call_bxml_replaced(self, call: Call, bxml: str) -> None:
        self._require_answered(call)

    def conference_updated(
        self, conference: Conference, status: str | None, redirect: Callback | None
    ) -> None:
        if status == "completed":
            self.store.complete_conference(conference)

    def conference_bxml_replaced(self, conference: Conference, bxml: str) -> None:
        """Accepted; without the engine there is no media to play it on."""

    def member_updated(self, conference: Conference, member: ConferenceMember) -> None:
        """The REST layer already stored mute/hold/coach; nothing else to do here."""

    def recording_state_changed(self, call: Call, state: Literal["paused", "recording"]) -> None:
        for recording in self.store.recordings_of_call(call.call_id):
            if recording.state != "stopped":
                recording.state = state

    def transcription_requested(self, recording: Recording, callback: Callback, tag: str | None) -> None:
        if recording.transcription is not None:
            recording.transcription.status = "available"
            recording.transcription.completed_time = self.clock.now()
