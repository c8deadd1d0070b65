"""The loopback harness of the ``flows`` and ``bxml`` suites: one test, one or more loopback calls.

A test places a call from the suite's caller number (``BW_NUMBER``) to its loopback number
(``BW_LOOPBACK_NUMBER``), answers both legs with scripted BXML, waits for the webhooks on its own
sink scope and checks them with the flow expectations of :mod:`conformance.webhooks`.  The same
test runs on every target; only the routing of the loopback number differs.

**Targets with the simulator's control API** (``/_sim/``).  The harness routes a loopback number
itself: each test gets a number of its own (``+1980...``, so parallel workers and other suites never
ring it) and an application whose ``initiate`` and status URLs point at this test's scope,
``<scope>/loopback/initiate`` and ``<scope>/loopback/status``; both are removed afterwards.
The simulator's far ends (``+19995550000`` .. ``+19995550005``) are available as well.

**Other targets** (a real account, another simulator).  The user configures the application of
``BW_LOOPBACK_NUMBER`` once, with the sink reachable at ``BW_CALLBACK_BASE_URL``:

=================================  ======================================================
application setting                value
=================================  ======================================================
call-initiated callback URL        ``{BW_CALLBACK_BASE_URL}/loopback/initiate`` (POST)
call-status callback URL           ``{BW_CALLBACK_BASE_URL}/loopback/status`` (POST)
=================================  ======================================================

Those two paths land outside every test scope; the harness answers ``initiate`` there with the
BXML of the test whose call is ringing, and collects the callee leg's webhooks by call id.  Every
other webhook URL is written by the test itself and points into its own scope.  Because the two
application URLs are shared, loopback tests on such a target run one at a time (no ``-n``).

Calls that must stay up while the test sends REST requests run in :meth:`Loopback.real_time`: on
a target with the control API the test holds a lease on real time (``POST /_sim/clock/real-time``)
for that block, and the clock goes back to virtual time once no test holds one.

Every failure raises :class:`FlowFailure`: the flow, the broken rule, what was expected and what
was received, and a command that reproduces it.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from conformance.errors import ConfigurationError, ConformanceError
from conformance.reports.recording import flow_order, note_flow
from conformance.target import Target
from conformance.webhooks import Flow, FlowMismatch, SinkScope, Webhook, WebhookSink
from conformance.webhooks.expectations import Mismatch
from conformance.webhooks.records import PayloadProblem
from conformance.webhooks.script import Reply, ReplySpec, render

__all__ = [
    "FAR_ENDS",
    "LOOPBACK_INITIATE_PATH",
    "LOOPBACK_STATUS_PATH",
    "CallPacing",
    "FlowFailure",
    "Loopback",
    "reproduce_command",
]

#: Where the loopback number's application sends ``initiate`` and the callee's ``disconnect``
#: (relative to the test scope on the simulator, to ``BW_CALLBACK_BASE_URL`` elsewhere).
LOOPBACK_INITIATE_PATH = "loopback/initiate"
LOOPBACK_STATUS_PATH = "loopback/status"

#: The simulator's far ends (issue 4, README "The embedded simulator").
FAR_ENDS = {
    "person": "+19995550000",
    "busy": "+19995550001",
    "no-answer": "+19995550002",
    "rejects": "+19995550003",
    "machine": "+19995550004",
    "short-call": "+19995550005",
}

HANGUP = "<Response><Hangup/></Response>"


class FlowFailure(ConformanceError, AssertionError):
    """A flow broke a rule; the message has the evidence and a reproduce command."""

    reason = "flow-failure"

    def __init__(self, message: str, *, flow: str, rule: str) -> None:
        super().__init__(message)
        self.flow = flow
        self.rule = rule


def reproduce_command(test_name: str, target: str | None, prefix: Sequence[str] | None = None) -> str:
    """``PREFIX -k <test>``; without a prefix ``bw-conformance run`` (plus ``--target`` when given)."""
    if prefix:
        return shlex.join([*prefix, "-k", test_name])
    words = ["bw-conformance", "run", "-k", test_name]
    if target:
        words += ["--target", target]
    return shlex.join(words)


# The callee legs on targets without the control API: the sink's catch-all scope answers the
# application's initiate with the BXML of the loopback test that is currently ringing.
_ACTIVE: dict[int, Loopback] = {}
_ACTIVE_LOCK = threading.Lock()


def _catch_all_initiate(sink: WebhookSink) -> Callable[[dict[str, Any]], Reply | None]:
    def answer(payload: dict[str, Any]) -> Reply | None:
        with _ACTIVE_LOCK:
            loop = _ACTIVE.get(id(sink))
        if loop is None:
            return None
        return loop._answer_callee(payload)

    return answer


class CallPacing(Protocol):
    """What the harness needs of :class:`conformance.api.pacing.CallPacer` (shared with the api
    suite, so one run keeps to one call budget and one rate)."""

    def before_call_creation(self) -> None: ...

    def send(self, request: Callable[[], httpx.Response]) -> httpx.Response: ...


class Loopback:
    """One test's loopback calls: routing, scripting both legs, placing calls, checking flows.

    ``user_target`` is the target the user gave (``None`` for the embedded simulator); it only
    shapes the reproduce command.  ``pacer`` spaces call creation and keeps the call budget (the
    sandbox profile); ``on_budget_spent`` is called with the error when the budget is spent
    (the suites skip the test there), before it is raised.
    """

    def __init__(
        self,
        target: Target,
        scope: SinkScope,
        client: httpx.Client,
        *,
        test_name: str,
        user_target: str | None = None,
        reproduce_prefix: Sequence[str] | None = None,
        timeout: float | None = None,
        pacer: CallPacing | None = None,
        on_budget_spent: Callable[[ConformanceError], None] | None = None,
    ) -> None:
        settings = target.settings
        if not settings.number:
            raise ConfigurationError("loopback flows need a caller number: set BW_NUMBER", reason="no-number")
        if not settings.loopback_number and not target.has_control_api:
            raise ConfigurationError(
                "loopback flows need a loopback number routed to the sink: set BW_LOOPBACK_NUMBER",
                reason="no-loopback-number",
            )
        self.target = target
        self.scope = scope
        self.client = client
        self.test_name = test_name
        self.user_target = user_target
        self.reproduce_prefix = reproduce_prefix
        self.pacer = pacer
        self.on_budget_spent = on_budget_spent
        self.caller: str = settings.number
        self._callee: str = settings.loopback_number or ""  # the simulator gets a fresh one
        self._application_id: str | None = None
        self.simulated = target.has_control_api
        self.timeout = timeout if timeout is not None else (8.0 if self.simulated else 45.0)
        #: quiet seconds after every call ended before an unsatisfied flow is judged
        self.settle = 1.0 if self.simulated else 20.0
        self._real_time = False
        self.calls: list[str] = []  # ids of the calls this test placed
        self._callee_ids: set[str] = set()
        self._scripts: dict[str, list[tuple[str | None, ReplySpec]]] = {}
        self._lock = threading.Lock()
        self._routed = False

    # -- set-up ----------------------------------------------------------------------------------
    @property
    def reproduce(self) -> str:
        return reproduce_command(self.test_name, self.user_target, self.reproduce_prefix)

    def url(self, path: str) -> str:
        """An absolute URL in this test's scope."""
        return self.scope.url(path)

    @property
    def callee(self) -> str:
        """The loopback number this test calls (its own number on a target with ``/_sim/``)."""
        self.route()
        return self._callee

    def route(self) -> None:
        """Send the loopback number's ``initiate`` to this test (see the module docstring)."""
        if self._routed:
            return
        self._routed = True
        account = self.target.settings.account_id
        if self.simulated:
            self._application_id = str(uuid.uuid4())
            self._callee = f"+1980{secrets.randbelow(10**7):07d}"
            with self.target.control_client() as control:
                app = control.put(
                    f"/_sim/accounts/{account}/applications/{self._application_id}",
                    json={
                        "name": "bw-conformance loopback",
                        "callInitiatedCallbackUrl": self.url(LOOPBACK_INITIATE_PATH),
                        "callInitiatedMethod": "POST",
                        "callStatusCallbackUrl": self.url(LOOPBACK_STATUS_PATH),
                        "callStatusMethod": "POST",
                    },
                )
                number = control.put(
                    f"/_sim/accounts/{account}/numbers/{self._callee}",
                    json={"applicationId": self._application_id},
                )
            for response in (app, number):
                if response.status_code >= 300:
                    raise self._failure(
                        "loopback routing",
                        "control-api",
                        f"the control API refused to route {self._callee}: "
                        f"{response.request.method} {response.request.url} -> "
                        f"{response.status_code} {response.text[:300]}",
                    )
        else:
            sink = self.scope.sink
            sink.catch_all().reply("initiate", _catch_all_initiate(sink))
            with _ACTIVE_LOCK:
                _ACTIVE[id(sink)] = self

    def script(self, event: str, reply: ReplySpec, *, leg: str | None = None) -> None:
        """Answer ``event`` with ``reply`` (BXML text, a Reply or a function of the payload).

        ``leg`` limits the rule to the ``"caller"`` (outbound legs) or the ``"callee"`` (inbound
        legs); a later rule for the same event and leg replaces an earlier one.
        """
        if leg not in (None, "caller", "callee"):
            raise ValueError(f"leg is 'caller', 'callee' or None, not {leg!r}")
        with self._lock:
            rules = self._scripts.setdefault(event, [])
            rules[:] = [r for r in rules if r[0] != leg]
            rules.append((leg, reply))
        if event != "initiate" or self.simulated:
            self.scope.reply(event, self._dispatcher(event))

    def answer_callee(self, bxml: ReplySpec) -> None:
        """The BXML the callee leg (the loopback number) answers ``initiate`` with."""
        self.route()
        self.script("initiate", bxml, leg="callee")

    def answer_caller(self, bxml: ReplySpec) -> None:
        """The BXML the caller leg answers the ``answer`` webhook with."""
        self.script("answer", bxml, leg="caller")

    def _dispatcher(self, event: str) -> Callable[[dict[str, Any]], Reply | None]:
        def reply(payload: dict[str, Any]) -> Reply | None:
            return self._reply_for(event, payload)

        return reply

    def _reply_for(self, event: str, payload: dict[str, Any]) -> Reply | None:
        direction = payload.get("direction")
        leg = "callee" if direction == "inbound" else "caller"
        with self._lock:
            rules = list(self._scripts.get(event, []))
        chosen = next((spec for who, spec in reversed(rules) if who == leg), None)
        if chosen is None:
            chosen = next((spec for who, spec in reversed(rules) if who is None), None)
        return None if chosen is None else render(chosen, payload)

    def _answer_callee(self, payload: dict[str, Any]) -> Reply | None:
        if payload.get("to") != self._callee:
            return None
        call_id = payload.get("callId")
        if isinstance(call_id, str):
            with self._lock:
                self._callee_ids.add(call_id)
        return self._reply_for("initiate", payload)

    # -- calls -----------------------------------------------------------------------------------
    def place(
        self,
        to: str | None = None,
        *,
        answer_url: str | None = None,
        disconnect_url: str | None = None,
        **fields: Any,
    ) -> str:
        """Create a call from the caller number (to the loopback number unless ``to`` is given);
        ``answerUrl``/``disconnectUrl`` point at this test's scope; ``fields`` go into the body."""
        destination = to or self.callee
        if destination == self.callee:
            self.route()
        body: dict[str, Any] = {
            "from": self.caller,
            "to": destination,
            "applicationId": self.target.settings.application_id,
            "answerUrl": answer_url or self.url("answer"),
            "disconnectUrl": disconnect_url or self.url("disconnect"),
        }
        body.update(fields)
        url = f"{self.target.account_url}/calls"
        if self.pacer is None:
            response = self.client.post(url, json=body)
        else:
            try:
                self.pacer.before_call_creation()
            except ConformanceError as exc:
                if exc.reason == "call-budget-exhausted" and self.on_budget_spent is not None:
                    self.on_budget_spent(exc)
                raise
            response = self.pacer.send(lambda: self.client.post(url, json=body))
        if response.status_code != 201:
            raise self._failure(
                "createCall",
                "createCall answers 201",
                _exchange(response),
                expected="201 Created with the call",
            )
        call_id = response.json().get("callId")
        if not isinstance(call_id, str):
            raise self._failure("createCall", "createCall returns a callId", _exchange(response))
        self.calls.append(call_id)
        return call_id

    def call_state(self, call_id: str) -> dict[str, Any]:
        response = self.client.get(f"{self.target.account_url}/calls/{call_id}")
        if response.status_code != 200:
            raise self._failure("getCallState", "getCallState answers 200", _exchange(response))
        data: dict[str, Any] = response.json()
        return data

    def wait_state(self, call_id: str, state: str, timeout: float | None = None) -> dict[str, Any]:
        """Poll getCallState until the call reads ``state`` (``answered``, ``disconnected``)."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            current = self.call_state(call_id)
            if current.get("state") == state:
                return current
            if time.monotonic() > deadline:
                raise self._failure(
                    "call state",
                    f"the call reads {state}",
                    f"call {call_id} still reads {current.get('state')!r} after {limit:g} s: {current}",
                    expected=f"state {state!r}",
                )
            time.sleep(0.05)

    def update_call(self, call_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(f"{self.target.account_url}/calls/{call_id}", json=body)

    def put_bxml(self, call_id: str, document: str) -> httpx.Response:
        return self.client.put(
            f"{self.target.account_url}/calls/{call_id}/bxml",
            content=document.encode("utf-8"),
            headers={"Content-Type": "application/xml; charset=utf-8"},
        )

    def hang_up(self, call_id: str) -> None:
        """End a call through the API; a call already gone is fine."""
        with contextlib.suppress(httpx.HTTPError):
            self.update_call(call_id, {"state": "completed"})

    @contextlib.contextmanager
    def real_time(self) -> Iterator[None]:
        """Run the simulator's clock in real time inside the block (no-op on other targets)."""
        if not self.simulated:
            yield
            return
        with self.target.control_client() as control:
            # A lease: other clients of the same simulator (xdist workers) hold their own, and the
            # clock leaps again only once the last is given back.
            leased = control.post("/_sim/clock/real-time")
            if leased.status_code == 201:
                lease = leased.json()["lease"]
                self._real_time = True
                try:
                    yield
                finally:
                    self._real_time = False
                    control.delete(f"/_sim/clock/real-time/{lease}")
                return
            # A simulator without leases: set real time and put back what was there.
            before = control.get("/_sim/clock").json().get("timeScale")
            control.put("/_sim/clock", json={"timeScale": 1})
            self._real_time = True
            try:
                yield
            finally:
                self._real_time = False
                control.put("/_sim/clock", json={"timeScale": before})

    # -- what arrived ----------------------------------------------------------------------------
    def received(self) -> list[Webhook]:
        """This test's webhooks in order of arrival, the callee's from the catch-all included."""
        sink = self.scope.sink
        with sink.lock:
            items = list(self.scope.requests)
            if not self.simulated:
                with self._lock:
                    ids = set(self._callee_ids)
                items += [w for w in sink.catch_all().requests if w.call_id in ids]
        return sorted(items, key=lambda w: w.seq)

    def callee_id(self, timeout: float | None = None) -> str:
        """The call id of the loopback leg (from its ``initiate``)."""
        hook = self.wait_for("initiate", timeout=timeout, where="the loopback leg")
        assert hook.call_id is not None
        return hook.call_id

    def wait_for(
        self,
        event: str,
        *,
        call_id: str | None = None,
        timeout: float | None = None,
        predicate: Callable[[Webhook], bool] | None = None,
        where: str | None = None,
        after: Webhook | None = None,
    ) -> Webhook:
        """The first ``event`` webhook (of ``call_id``) received, waiting up to the timeout."""
        limit = self.timeout if timeout is None else timeout
        floor = after.seq if after is not None else 0

        def find() -> Webhook | None:
            for hook in self.received():
                if hook.seq <= floor or hook.event_type != event:
                    continue
                if call_id is not None and hook.call_id != call_id:
                    continue
                if predicate is None or predicate(hook):
                    return hook
            return None

        sink = self.scope.sink
        with sink.condition:
            found = sink.condition.wait_for(find, timeout=limit)
        if found is None:
            _note(where or event, event, [event], call_id, [], [Mismatch("missing", event, 0, 1)])
            wanted = event + (f" for call {call_id}" if call_id else "") + (f" ({where})" if where else "")
            raise self._failure(
                where or event,
                f"missing {event}",
                f"no {wanted} within {limit:g} s",
                expected=f"a {event} webhook",
            )
        return found

    def expect(
        self, flow: Flow, timeout: float | None = None, *, calls: Iterable[str] | None = None
    ) -> list[Webhook]:
        """Wait until the webhooks satisfy ``flow`` (or the timeout), then check them and their
        payloads against the contract; raises :class:`FlowFailure` naming the broken rule.

        ``calls`` keeps only the webhooks of those call ids (the flow's own ``call_id`` keeps one).
        """
        limit = self.timeout if timeout is None else timeout
        wanted = None if calls is None else set(calls)

        def selected() -> list[Webhook]:
            hooks = self.received()
            return hooks if wanted is None else [w for w in hooks if w.call_id in wanted]

        sink = self.scope.sink
        deadline = time.monotonic() + limit
        with sink.condition:
            while not flow.satisfied_by(hooks := selected()):
                left = deadline - time.monotonic()
                if left <= 0 or self._settled() or any(w.problems for w in hooks):
                    break
                sink.condition.wait(min(0.1, left))
        received = selected()
        name = flow.name or flow.describe()
        judged = [
            w
            for w in received
            if w.event_type not in flow.ignore and (flow.call_id is None or w.call_id == flow.call_id)
        ]
        _note(name, flow.describe(), flow_order(flow.steps), flow.call_id, judged, flow.difference(received))
        self.check_payloads(name)  # every webhook of the test, both legs
        try:
            flow.check(received)
        except FlowMismatch as exc:
            first = exc.mismatches[0]
            rule = f"{first.kind} {first.subject}"
            raise self._failure(name, rule, str(exc)) from None
        return received

    def _settled(self) -> bool:
        """Every call this test placed has sent its ``disconnect`` and nothing arrived for a while:
        waiting longer for a flow that is not satisfied would only cost time."""
        hooks = self.received()
        if not hooks or not self.calls:
            return False
        ended = {w.call_id for w in hooks if w.event_type == "disconnect"}
        if not set(self.calls) <= ended:
            return False
        quiet = (datetime.now(UTC) - hooks[-1].received_at).total_seconds()
        return quiet >= self.settle * (2.5 if self._real_time else 1.0)

    def check_payloads(self, flow: str, received: Sequence[Webhook] | None = None) -> None:
        """Fail when a webhook broke the contract (schema, unknown eventType, bad JSON)."""
        hooks = self.received() if received is None else received
        bad = [w for w in hooks if w.problems]
        if not bad:
            return
        first: PayloadProblem = bad[0].problems[0]
        lines = [f"{len(bad)} webhook(s) break the contract's payload schema:"]
        for hook in bad:
            lines.append(f"  {hook.describe()}")
            lines.extend(f"    - [{p.reason}] {p}" for p in hook.problems)
            if hook.payload is not None:
                lines.append(f"    payload: {dict(hook.payload)}")
        raise self._failure(flow, f"payload {first.reason}", "\n".join(lines), expected="valid payloads")

    def require(self, condition: bool, flow: str, rule: str, *, expected: object, received: object) -> None:
        """Fail with ``rule`` unless ``condition`` holds."""
        if not condition:
            raise self._failure(flow, rule, f"received: {received!r}", expected=repr(expected))

    def fail(self, flow: str, rule: str, evidence: str, *, expected: str | None = None) -> FlowFailure:
        """A :class:`FlowFailure` to raise, with the reproduce command appended."""
        return self._failure(flow, rule, evidence, expected=expected)

    def _failure(self, flow: str, rule: str, evidence: str, *, expected: str | None = None) -> FlowFailure:
        lines = [f"flow {flow!r} broke rule {rule!r}"]
        if expected is not None:
            lines.append(f"expected: {expected}")
        lines.append(evidence)
        seen = self.received()
        if seen and "received (" not in evidence:
            lines.append("webhooks received by this test:")
            lines.extend(f"  {w.describe()}" for w in seen)
        lines.append(f"reproduce: {self.reproduce}")
        return FlowFailure("\n".join(lines), flow=flow, rule=rule)

    # -- tear-down -------------------------------------------------------------------------------
    def close(self) -> None:
        """Hang up what is still up and stop answering the loopback number for this test."""
        for call_id in self.calls:
            with contextlib.suppress(ConformanceError, httpx.HTTPError, ValueError):
                state = self.client.get(f"{self.target.account_url}/calls/{call_id}")
                if state.status_code == 200 and state.json().get("state") != "disconnected":
                    self.hang_up(call_id)
        if not self.simulated:
            with _ACTIVE_LOCK:
                if _ACTIVE.get(id(self.scope.sink)) is self:
                    del _ACTIVE[id(self.scope.sink)]
        elif self._application_id is not None:
            account = self.target.settings.account_id
            with (
                contextlib.suppress(httpx.HTTPError),
                self.target.control_client() as control,
            ):
                control.delete(f"/_sim/accounts/{account}/numbers/{self._callee}")
                control.delete(f"/_sim/accounts/{account}/applications/{self._application_id}")

    def __enter__(self) -> Loopback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _note(
    name: str,
    expected: str,
    order: list[str],
    call_id: str | None,
    judged: Sequence[Webhook],
    mismatches: Sequence[Mismatch],
) -> None:
    """Tell the run's recorder (when it records, for the reports) what this flow expected."""
    note_flow(
        name=name, expected=expected, order=order, call_id=call_id, selected=judged, mismatches=mismatches
    )


def _exchange(response: httpx.Response) -> str:
    request = response.request
    body = request.content.decode("utf-8", "replace")[:500]
    return (
        f"request: {request.method} {request.url}\n  {body}\n"
        f"response: {response.status_code}\n  {response.text[:500]}"
    )
