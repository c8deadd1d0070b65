"""One call leg at run time: its media, its BXML task, its webhooks and how it ends.

Media model: a leg's *party* is whoever is at the far end of the line (a loopback leg, a simulated
person, a machine).  ``leg.send(sound)`` is the platform playing something to the party;
``leg.hear(sound)`` is the party saying something to the platform, which Gather, StartGather and
recordings pick up, and which a bridge or a conference relays to the other side.  A loopback pair is
two legs that are each other's party.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from conformance.errors import ConformanceError
from conformance.simulator.clock import Mailbox
from conformance.simulator.engine import payloads
from conformance.simulator.engine.delivery import DeliveryError, Target
from conformance.simulator.engine.documents import Document, InvalidBxml, load
from conformance.simulator.engine.media import Sound
from conformance.simulator.models import Call

if TYPE_CHECKING:
    from conformance.simulator.engine.conference import ConferenceRoom, Membership
    from conformance.simulator.engine.core import Engine
    from conformance.simulator.engine.recording import Recorder


class CallFailure(ConformanceError, RuntimeError):
    """Ends the call with ``cause`` (``callback-error``, ``invalid-bxml`` ...) and a message."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message, reason=cause)
        self.cause = cause


def ending(exc: Exception, event: str | None = None) -> CallFailure:
    """The one place that turns whatever stopped a call's BXML into its disconnect cause.

    A webhook that failed in any way (refused, timed out, broken, oversized, a URL that cannot be
    requested) is ``callback-error``; a reply that is not valid BXML (including invalid UTF-8) is
    ``invalid-bxml``; anything else is a fault of the simulator: ``application-error``.
    """
    if isinstance(exc, CallFailure):
        return exc
    if isinstance(exc, DeliveryError):
        what = f"{event} webhook failed" if event else "webhook failed"
        return CallFailure("callback-error", f"{what}: {exc}")
    if isinstance(exc, InvalidBxml):
        return CallFailure("invalid-bxml", str(exc))
    return CallFailure("application-error", f"simulator error: {exc!r}")


class Party(Protocol):
    """Whatever can hear what a leg plays."""

    def hear(self, sound: Sound) -> None: ...


_Outgoing = tuple[str, Target, dict[str, Any], float] | None


class Leg:
    """The run-time side of one :class:`~conformance.simulator.models.Call`."""

    def __init__(
        self,
        engine: Engine,
        call: Call,
        *,
        callback_timeout: float,
        status_target: Target | None,
    ) -> None:
        self.engine = engine
        self.clock = engine.clock
        self.store = engine.store
        self.call = call
        self.callback_timeout = callback_timeout
        self.status_target = status_target
        self.disconnect_event = "disconnect"
        self.peer: Party | None = None
        self.bridge: Leg | None = None
        self.membership: Membership | None = None
        self.heard: list[Sound] = []
        self.played: list[Sound] = []
        self._listeners: list[Mailbox[Sound]] = []
        self.media_taps: list[Callable[[str, Sound], None]] = []  # (track, sound): real-time transcriptions
        self.runner: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.watchers: list[Callable[[Leg], None]] = []
        self.answer_watchers: list[Callable[[Leg], None]] = []
        self.done = False
        self.document_url: str | None = None
        self.gathering = False
        self.gather_task: asyncio.Task[Any] | None = None
        self.recorder: Recorder | None = None  # StartRecording
        self.active_record: Recorder | None = None  # <Record> in progress
        self.streams: dict[str, dict[str, Any]] = {}
        self.live_transcriptions: dict[str, dict[str, Any]] = {}
        self.transfer_fields: dict[str, Any] = {}
        self.forwarding = False
        self._outbox: Mailbox[_Outgoing] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------------------------ state

    @property
    def id(self) -> str:
        return self.call.call_id

    @property
    def answered(self) -> bool:
        return self.call.answer_time is not None

    @property
    def room(self) -> ConferenceRoom | None:
        return None if self.membership is None else self.membership.room

    def answer(self) -> None:
        """Answer the leg now (idempotent); whoever waits for the answer is told at once."""
        if self.done or self.answered:
            return
        self.store.update_call(self.id, state="answered", answer_time=self.clock.now())
        for watcher in list(self.answer_watchers):
            watcher(self)
        self.answer_watchers.clear()

    def set_tag(self, value: str | None) -> None:
        tag = None if value is None else value.strip()
        self.store.update_call(self.id, tag=tag or None)

    # ------------------------------------------------------------------------------ media

    def send(self, sound: Sound) -> None:
        """The platform plays ``sound`` to this leg's party."""
        if self.done:
            return
        self.played.append(sound)
        for tap in list(self.media_taps):
            tap("outbound", sound)
        if self.peer is not None:
            self.peer.hear(sound)

    def hear(self, sound: Sound) -> None:
        """The party said ``sound``; listeners, the bridge and the conference get it."""
        if self.done:
            return
        self.heard.append(sound)
        for tap in list(self.media_taps):
            tap("inbound", sound)
        for box in list(self._listeners):
            box.put(sound)
        if self.bridge is not None and not self.bridge.done:
            self.bridge.send(sound)
        if self.membership is not None:
            self.membership.room.relay(self, sound)

    def play(self, kind: str, duration: float, data: str = "", pcm: bytes | None = None) -> Sound:
        sound = Sound(self.clock.time(), duration, kind, data, pcm)  # type: ignore[arg-type]
        self.send(sound)
        return sound

    def listen(self) -> Mailbox[Sound]:
        box: Mailbox[Sound] = Mailbox(self.clock)
        self._listeners.append(box)
        return box

    def unlisten(self, box: Mailbox[Sound]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(box)
        box.close()

    # ------------------------------------------------------------------------------ webhooks

    def payload(self, **extra: Any) -> dict[str, Any]:
        data = payloads.call_fields(self.call, self.engine.base_url, self.clock.now())
        data.update(self.transfer_fields)
        data.update(extra)
        return data

    async def fetch(self, event: str, target: Target, context: str, **extra: Any) -> Document:
        """Send a BXML-returning webhook and load its reply (failures end the call)."""
        body = payloads.shape(event, self.payload(**extra))
        try:
            reply = await self.engine.deliver(self, event, target, body, self.callback_timeout)
            document = load(reply.raw, context, reply.url)  # the bytes, decoded by the validator
        except (DeliveryError, InvalidBxml) as exc:
            raise ending(exc, event) from None
        self.document_url = reply.url
        return document

    def post(self, event: str, target: Target | None, **extra: Any) -> None:
        """Queue an asynchronous webhook; this leg's async webhooks go out one at a time, in order."""
        if target is None:
            return
        body = payloads.shape(event, self.payload(**extra))
        self.post_raw(event, target, body)

    def post_raw(
        self, event: str, target: Target, body: dict[str, Any], timeout: float | None = None
    ) -> None:
        if self._closed:  # after the disconnect: no queue any more, send on its own
            self.engine.post_detached(self, event, target, body, timeout or self.callback_timeout)
            return
        if self._outbox is None:
            self._outbox = Mailbox(self.clock)
            self._sender = self.engine.spawn(self._send_all(self._outbox), name=f"outbox-{self.id}")
        self._outbox.put((event, target, body, timeout or self.callback_timeout))

    async def _send_all(self, box: Mailbox[_Outgoing]) -> None:
        while True:
            item = await box.get()
            if item is None:
                box.close()
                return
            event, target, body, timeout = item
            try:
                await self.engine.deliver(self, event, target, body, timeout, retry=True)
            except DeliveryError:
                pass  # recorded by the engine; the app's problem, reported the platform's way
            except Exception as exc:  # never stop the queue: the disconnect is still in it
                self.engine.fault(f"webhook {event} of call {self.id}", exc)

    # ------------------------------------------------------------------------------ tasks

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        task = self.engine.spawn(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def run(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Replace whatever BXML this leg runs by ``body`` (the old task is cancelled first)."""
        old = self.runner

        async def runner() -> None:
            if old is not None and not old.done() and old is not asyncio.current_task():
                old.cancel()
                await asyncio.gather(old, return_exceptions=True)
            if self.done:
                return
            try:
                await body()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever it was, the call ends with one disconnect
                failure = ending(exc)
                if failure is not exc and failure.cause == "application-error":
                    self.engine.fault(f"call {self.id}", exc)  # a bug of ours, not the app's
                self.hangup(failure.cause, failure.message)

        self.runner = self.engine.spawn(runner(), name=f"bxml-{self.id}")

    async def execute(self, document: Document | None) -> None:
        """Run documents until one ends without handing over; then the implicit hangup."""
        from conformance.simulator.engine.verbs import interpret

        while document is not None and not self.done:
            document = await interpret(self, document)
        if not self.done:
            self.hangup("hangup")

    # ------------------------------------------------------------------------------ the end

    def hangup(
        self, cause: str = "hangup", message: str | None = None, *, sip_code: int | None = None
    ) -> None:
        """End the leg now (idempotent): stop media, tell linked legs, send the status webhook."""
        if self.done:
            return
        if cause == "hangup" and not self.answered and self.call.direction == "inbound":
            cause = "rejected" if not self.forwarding else cause
        now = self.clock.now()
        for recorder in (self.active_record, self.recorder):
            if recorder is not None:
                self._safely(recorder.finish)
        self.done = True
        self._safely(
            functools.partial(
                self.store.update_call,
                self.id,
                state="disconnected",
                end_time=now,
                disconnect_cause=cause,
                error_message=message,
            )
        )
        for step in self._ending_steps():
            self._safely(step)
        self._safely(
            functools.partial(
                self.post,
                self.disconnect_event,
                self.status_target,
                endTime=payloads.iso(now),
                cause=cause,
                errorMessage=message,
                sipResponseCode=sip_code,
            )
        )
        if self._outbox is not None:
            self._outbox.put(None)
        self._closed = True
        self.engine.leg_ended(self)

    def _safely(self, step: Callable[[], object]) -> None:
        """Run one step of ending the leg; a failure is recorded, and the ending goes on."""
        try:
            step()
        except Exception as exc:
            self.engine.fault(f"ending call {self.id}", exc)

    def _ending_steps(self) -> list[Callable[[], object]]:
        """What ending the leg does before its disconnect webhook, in order."""
        from conformance.simulator.engine.extras import stop_all_streams

        current = asyncio.current_task()
        steps: list[Callable[[], object]] = [functools.partial(stop_all_streams, self), self._close_listeners]
        for task in [self.runner, *self.tasks]:
            if task is not None and task is not current and not task.done():
                steps.append(task.cancel)
        if self.membership is not None:
            steps.append(self.membership.leave)
        for watcher in list(self.watchers):
            steps.append(functools.partial(watcher, self))
        steps.append(self.watchers.clear)
        steps.append(self.answer_watchers.clear)
        return steps

    def _close_listeners(self) -> None:
        for box in list(self._listeners):
            box.close()
        self._listeners.clear()


def couple(a: Leg, b: Leg) -> None:
    """When one of two legs ends, the other ends too (a loopback or forwarded pair)."""
    a.watchers.append(lambda _: b.hangup("hangup"))
    b.watchers.append(lambda _: a.hangup("hangup"))


__all__ = ["CallFailure", "Leg", "Party", "couple", "ending"]
