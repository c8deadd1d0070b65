"""The call engine: places calls, runs their BXML on the simulator's clock, sends the webhooks.

:class:`Engine` implements :class:`~conformance.simulator.models.CallEngine`.  The REST layer calls
its methods on the server's event loop; each returns at once and the work runs in tasks started
with the clock (so virtual time knows about them).  Records change only through the store, so
``getCallState`` and friends always report the live truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from conformance.bxml.schema import explainer_loaded, xmlschema_schema
from conformance.errors import ConfigurationError
from conformance.simulator.clock import VirtualClock
from conformance.simulator.engine import payloads
from conformance.simulator.engine.conference import ConferenceRoom
from conformance.simulator.engine.delivery import Deliverer, DeliveryError, Reply, Target
from conformance.simulator.engine.dialing import dial
from conformance.simulator.engine.documents import InvalidBxml, load
from conformance.simulator.engine.leg import Leg
from conformance.simulator.engine.media import AudioCache
from conformance.simulator.engine.recording import transcribe, transcription_json
from conformance.simulator.models import (
    Account,
    Application,
    Call,
    Callback,
    Clock,
    Conference,
    ConferenceMember,
    EngineRejected,
    Recording,
)
from conformance.simulator.store import Store
from conformance.webhooks.events import catalogue

log = logging.getLogger(__name__)

HUMAN_DETECTION_SECONDS = 1.2
DEFAULT_BASE_URL = "http://127.0.0.1"
SENT_LOG_SIZE = 10_000


@dataclass(frozen=True)
class SentWebhook:
    """One webhook the engine delivered (or tried to): for tests, benches and debugging."""

    call_id: str | None
    event: str
    url: str
    ok: bool


def _log_preload_failure(built: asyncio.Future[Any]) -> None:
    """A failed preload is only logged: the first invalid document then builds the model itself."""
    if not built.cancelled() and built.exception() is not None:
        log.warning("could not build the BXML explainer ahead of need: %r", built.exception())


class Engine:
    """Drives every call of one simulator."""

    def __init__(self, store: Store, clock: VirtualClock, *, base_url: str = DEFAULT_BASE_URL) -> None:
        self.store = store
        self.clock = clock
        self.base_url = base_url
        self.deliverer = Deliverer(clock)
        self.legs: dict[str, Leg] = {}
        self.rooms: dict[str, ConferenceRoom] = {}
        self.audio_cache = AudioCache()  # PlayAudio files and the limits on fetching them
        self.recording_texts: dict[str, str] = {}
        self.sent: deque[SentWebhook] = deque(maxlen=SENT_LOG_SIZE)  # the most recent deliveries
        self.counts: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors: list[str] = []  # failures of background tasks (a bug if not empty)

    # ------------------------------------------------------------------------------ plumbing

    async def start(self) -> None:
        """Read the webhook catalogue and load the verbs now rather than in the middle of the first call.

        The verbs (imported by a leg on first use, to keep the import graph acyclic) bring in the
        media and stream modules with their codec tables: 0.2-0.3 s during which the first call's
        loop stood still.
        """
        catalogue()
        importlib.import_module("conformance.simulator.engine.verbs")
        # The words for an invalid document come from xmlschema's model of the grammar, about 0.5 s
        # of CPU to build: built now on a worker thread, not on the loop at the first invalid reply.
        if not explainer_loaded():
            built = asyncio.get_running_loop().run_in_executor(None, xmlschema_schema)
            built.add_done_callback(_log_preload_failure)

    async def aclose(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.deliverer.aclose()

    def running_tasks(self) -> int:
        """Tasks of calls, webhooks and conferences not finished yet (0 when every call is over)."""
        return sum(1 for task in list(self._tasks) if not task.done())

    def http(self) -> httpx.AsyncClient:
        return self.deliverer._http()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        task = self.clock.spawn(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def fault(self, where: str, exc: BaseException) -> None:
        """A failure of the simulator itself (a bug): logged and kept in :attr:`errors`."""
        self.errors.append(f"{where}: {exc!r}")
        log.error("%s failed", where, exc_info=exc)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if isinstance(exc, DeliveryError):
            # An app that does not answer an informational webhook is the app's problem, reported
            # to it the platform's way; one line is enough here.
            log.warning("webhook from task %s not delivered: %s", task.get_name(), exc)
            return
        self.errors.append(repr(exc))
        log.error("engine task %s failed", task.get_name(), exc_info=exc)

    async def deliver(
        self,
        leg: Leg | None,
        event: str,
        target: Target,
        body: dict[str, Any],
        timeout: float,
        *,
        retry: bool = False,
    ) -> Reply:
        call_id = leg.id if leg is not None else None
        try:
            reply = await self.deliverer.send(target, body, timeout=timeout, retry_connection_errors=retry)
        except DeliveryError:
            self.sent.append(SentWebhook(call_id, event, target.url, False))
            raise
        self.sent.append(SentWebhook(call_id, event, reply.url, True))
        self.counts[event] += 1
        return reply

    def post_detached(
        self, leg: Leg, event: str, target: Target, body: dict[str, Any], timeout: float
    ) -> None:
        async def send() -> None:
            try:
                await self.deliver(leg, event, target, body, timeout, retry=True)
            except DeliveryError:
                pass  # recorded in self.sent; the app's problem
            except Exception as exc:
                self.fault(f"webhook {event} of call {leg.id}", exc)

        self.spawn(send(), name=f"webhook-{event}")

    def leg_ended(self, leg: Leg) -> None:
        """Keep ended legs out of the running set (their records stay in the store)."""
        self.legs.pop(leg.id, None)

    # ------------------------------------------------------------------------------ legs

    def loopback_route(self, number: str) -> tuple[Account, Application] | None:
        routed = self.store.route(number)
        if routed is None or not routed[1].call_initiated_callback_url:
            return None
        return routed

    def _status_target(self, application: Application | None) -> Target | None:
        if application is None or not application.call_status_callback_url:
            return None
        return Target(
            application.call_status_callback_url,
            application.call_status_method,
            application.callback_username,
            application.callback_password,
        )

    def new_inbound_leg(self, caller: Leg, account: Account, application: Application) -> Leg:
        call = Call(
            account_id=account.id,
            call_id=self.store.new_call_id(),
            application_id=application.id,
            to=caller.call.to,
            from_=caller.call.from_,
            direction="inbound",
            state="initiated",
            callback_timeout=application.callback_timeout,
        )
        self.store.add_call(call)
        call.enqueued_time = None
        self.store.update_call(call.call_id, start_time=self.clock.now())
        leg = Leg(
            self,
            call,
            callback_timeout=application.callback_timeout,
            status_target=self._status_target(application),
        )
        self.legs[call.call_id] = leg
        return leg

    def new_outbound_leg(self, parent: Leg, *, to: str, from_: str, tag: str | None, timeout: float) -> Leg:
        """A leg the platform dials for a running call (Transfer, Forward)."""
        call = Call(
            account_id=parent.call.account_id,
            call_id=self.store.new_call_id(),
            application_id=parent.call.application_id,
            to=to,
            from_=from_,
            direction="outbound",
            parent_call_id=parent.id,
            tag=tag if tag is not None else parent.call.tag,
            call_timeout=timeout,
            callback_timeout=parent.callback_timeout,
        )
        self.store.add_call(call)
        leg = Leg(self, call, callback_timeout=parent.callback_timeout, status_target=None)
        self.legs[call.call_id] = leg
        return leg

    def start_inbound(self, leg: Leg) -> None:
        account_app = self.store.application(leg.call.account_id, leg.call.application_id)
        if account_app is None or not account_app.call_initiated_callback_url:
            leg.hangup("application-error", "the number's application has no callInitiatedCallbackUrl")
            return
        app: Application = account_app
        target = Target(
            app.call_initiated_callback_url or "",
            app.call_initiated_method,
            app.callback_username,
            app.callback_password,
            app.call_initiated_fallback_url,
            app.call_initiated_fallback_method,
            app.callback_username,
            app.callback_password,
        )

        async def body() -> None:
            document = await leg.fetch("initiate", target, "call")
            await leg.execute(document)

        leg.run(body)

    # ------------------------------------------------------------------------------ CallEngine

    def call_created(self, call: Call) -> None:
        leg = Leg(
            self,
            call,
            callback_timeout=call.callback_timeout,
            status_target=Target.from_callback(call.disconnect),
        )
        self.legs[call.call_id] = leg
        leg.run(lambda: self._outbound(leg))

    async def _outbound(self, leg: Leg) -> None:
        call = leg.call
        self.store.update_call(call.call_id, state="initiated", start_time=self.clock.now())
        result = await dial(leg, call.call_timeout)
        if not result.answered:
            leg.hangup(result.cause, sip_code=result.sip_code)
            return
        leg.answer()
        extra: dict[str, Any] = {}
        detection = call.machine_detection
        if detection is not None:
            value = "answering-machine" if result.machine else "human"
            limit = float(detection.get("detectionTimeout") or 15)
            seconds = HUMAN_DETECTION_SECONDS if value == "human" else 4.0
            if seconds > limit:
                value, seconds = "timeout", limit
            outcome = {"value": value, "duration": payloads.iso_duration(seconds)}
            if (detection.get("mode") or "async") == "sync":
                await self.clock.sleep(seconds)
                extra["machineDetectionResult"] = outcome
            else:
                leg.spawn(self._detect_async(leg, detection, outcome, seconds), name=f"amd-{leg.id}")
        answer = Target.from_callback(call.answer)
        if answer is None:
            leg.hangup("application-error", "the call has no answerUrl")
            return
        document = await leg.fetch("answer", answer, "call", **extra)
        await leg.execute(document)

    async def _detect_async(
        self, leg: Leg, detection: dict[str, Any], outcome: dict[str, str], seconds: float
    ) -> None:
        await self.clock.sleep(seconds)
        url = detection.get("callbackUrl") or leg.call.answer.url
        if not url:
            return
        target = Target(
            url,
            "GET" if detection.get("callbackMethod") == "GET" else "POST",
            detection.get("username"),
            detection.get("password"),
            detection.get("fallbackUrl"),
            "GET" if detection.get("fallbackMethod") == "GET" else "POST",
            detection.get("fallbackUsername"),
            detection.get("fallbackPassword"),
        )
        leg.post("machineDetectionComplete", target, machineDetectionResult=outcome)

    def _running(self, call: Call) -> Leg:
        leg = self.legs.get(call.call_id)
        if leg is None or leg.done:
            raise EngineRejected(409, f"Call [{call.call_id}] cannot be modified in its current state")
        return leg

    def _answered(self, call: Call) -> Leg:
        leg = self._running(call)
        if not leg.answered:
            raise EngineRejected(409, f"Call [{call.call_id}] cannot be modified in its current state")
        return leg

    def call_redirected(self, call: Call, redirect: Callback) -> None:
        leg = self._answered(call)
        target = Target.from_callback(redirect)
        if target is None:
            raise EngineRejected(400, "redirectUrl is required when state is active")

        async def body() -> None:
            document = await leg.fetch("redirect", target, "call")
            await leg.execute(document)

        leg.run(body)

    def call_completed(self, call: Call) -> None:
        leg = self.legs.get(call.call_id)
        if leg is None or leg.done:
            return
        if not leg.answered and call.direction == "outbound":
            leg.hangup("cancel")
        else:
            leg.hangup("hangup")

    def call_bxml_replaced(self, call: Call, bxml: str) -> None:
        leg = self._answered(call)
        try:
            document = load(bxml, "call", leg.document_url)
        except InvalidBxml as exc:
            raise EngineRejected(400, str(exc)) from None
        leg.run(lambda: leg.execute(document))

    def conference_updated(
        self, conference: Conference, status: str | None, redirect: Callback | None
    ) -> None:
        room = self.rooms.get(conference.id)
        if room is None:
            raise EngineRejected(409, f"Conference [{conference.id}] is not active")
        if redirect is not None and redirect.url:
            room.event("conferenceRedirect", Target.from_callback(redirect))
        if status == "completed":
            room.complete()

    def conference_bxml_replaced(self, conference: Conference, bxml: str) -> None:
        room = self.rooms.get(conference.id)
        if room is None:
            raise EngineRejected(409, f"Conference [{conference.id}] is not active")
        try:
            document = load(bxml, "conference", room.document_url)
        except InvalidBxml as exc:
            raise EngineRejected(400, str(exc)) from None
        room.run_bxml(document)

    def member_updated(self, conference: Conference, member: ConferenceMember) -> None:
        room = self.rooms.get(conference.id)
        if room is None:
            return
        membership = room.members.get(member.call_id)
        if membership is not None and membership.member is not member:
            membership.member.mute = member.mute
            membership.member.hold = member.hold
            membership.member.call_ids_to_coach = member.call_ids_to_coach

    def recording_state_changed(self, call: Call, state: Literal["paused", "recording"]) -> None:
        leg = self._running(call)
        recorder = leg.recorder
        if recorder is None:
            raise EngineRejected(409, f"Call [{call.call_id}] has no recording in progress")
        if state == "paused":
            recorder.pause()
        else:
            recorder.resume()

    def transcription_requested(self, recording: Recording, callback: Callback, tag: str | None) -> None:
        target = Target.from_callback(callback)
        text = self.recording_texts.get(recording.recording_id, "")

        async def work() -> None:
            await self.clock.sleep(max(1.0, recording.duration_seconds / 4))
            holder = self.legs.get(recording.call_id or "")
            transcribe(self.store, self.clock, recording, text)
            if target is None:
                return
            call = self.store.call(recording.call_id or "")
            body: dict[str, Any] = {}
            if call is not None:
                body.update(payloads.call_fields(call, self.base_url, self.clock.now()))
            body.update(payloads.recording_fields(recording, self.base_url))
            body["tag"] = tag or None
            body["transcription"] = transcription_json(self.base_url, recording)
            shaped = payloads.shape("transcriptionAvailable", body)
            with contextlib.suppress(DeliveryError):
                await self.deliver(holder, "transcriptionAvailable", target, shaped, 15.0, retry=True)

        self.spawn(work(), name=f"transcribe-{recording.recording_id}")


def engine_factory(store: Store, clock: Clock) -> Engine:
    """Build the engine for a simulator (the clock must be a :class:`VirtualClock`)."""
    if not isinstance(clock, VirtualClock):
        raise ConfigurationError(
            "the call engine needs conformance.simulator.clock.VirtualClock", reason="engine-clock"
        )
    return Engine(store, clock)


__all__ = ["Engine", "SentWebhook", "engine_factory"]
