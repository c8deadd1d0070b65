"""BXML on a live call (marker ``bxml``): ``PUT /calls/{callId}/bxml`` takes every valid document
and rejects every invalid one without harming the call.

Documents come from :func:`conformance.bxml.strategies.bxml_documents` (valid, from the grammar)
and :func:`~conformance.bxml.strategies.invalid_bxml_documents` (a valid document broken by a
named rule); the budget is ``--bw-max-examples``.  A loopback call is kept up in real time; after
each accepted document the harness puts a long ``<Pause>`` back so the call stays up, and places
a new call when a document ended it.  On the simulator, absolute URLs in generated documents are
pointed at a closed local port so that no request leaves the machine; on other targets the
documents use no verb that dials (:data:`DIALING_VERBS`), so no generated number is ever called.
Neither test is ``sandbox_safe``: each may place many calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, reject, seed, settings

from conformance.bxml import MAX_DOCUMENT_BYTES, VERBS, is_valid
from conformance.bxml.mutations import mutation_rules
from conformance.bxml.rules import PROJECT_LIMITS
from conformance.bxml.strategies import bxml_documents, invalid_bxml_documents
from conformance.settings import Settings
from conformance.suites.loopback import Loopback
from conformance.target import Target
from conformance.webhooks import SinkScope, WebhookSink

if TYPE_CHECKING:
    from conformance.api import ApiRunner

pytestmark = pytest.mark.bxml

HOLD = '<Response><Pause duration="600"/></Response>'
#: Where absolute URLs of generated documents point on the simulator: nothing listens there.
NOWHERE = "127.0.0.1:9"
_ABSOLUTE_URL = re.compile(r"\b(https?)://[^/\s\"'<>]+")
_PADDING = re.compile(r"<!--(p+)-->")
#: Verbs that make the platform dial someone (or hand the call elsewhere): left out of documents
#: sent to targets without the control API, where a generated number could be a real phone.
DIALING_VERBS = frozenset({"Transfer", "Forward", "Refer", "Connect"})
# Built at import time, so the grammar and the mutations load at collection, not deep in a test.
VALID_DOCUMENTS = bxml_documents("call")
VALID_DOCUMENTS_NO_DIALING = bxml_documents("call", verbs=[v for v in VERBS if v not in DIALING_VERBS])
# Only documents that break an error rule are sent as "must be refused" (mutation_rules leaves the
# warning rules out: the platform accepts those documents).  A real target is not held to this
# project's own safety limits (nesting depth, DTDs), which only the simulator promises.
INVALID_DOCUMENTS = invalid_bxml_documents("call")
INVALID_DOCUMENTS_ON_THE_PLATFORM = invalid_bxml_documents(
    "call", rules=[rule for rule in mutation_rules("call") if rule not in PROJECT_LIMITS]
)


def localise(document: str) -> str:
    """``document`` with every absolute http(s) URL moved to :data:`NOWHERE` (scheme kept), its
    size kept legal."""
    moved = _ABSOLUTE_URL.sub(lambda m: f"{m.group(1)}://{NOWHERE}", document)
    excess = len(moved.encode("utf-8")) - (MAX_DOCUMENT_BYTES - 1)
    if excess > 0:
        moved = _PADDING.sub(lambda m: "<!--" + m.group(1)[excess:] + "-->", moved, count=1)
    return moved


@pytest.fixture
def bxml_scope(bw_settings: Settings, bw_webhooks: SinkScope) -> Iterator[SinkScope]:
    """A scope for the live calls.  Where the target reaches the sink on 127.0.0.1, a private
    sink is used: requests the generated documents cause there are not webhooks of a flow."""
    if bw_settings.callback_base_url is not None:
        yield bw_webhooks
        return
    with WebhookSink() as sink:
        yield sink.scope("bxml")


@pytest.fixture
def live(
    bw_target: Target,
    bw_settings: Settings,
    bxml_scope: SinkScope,
    bw_client: httpx.Client,
    bw_api_runner: ApiRunner,
    bw_reproduce_prefix: list[str],
    request: pytest.FixtureRequest,
) -> Iterator[LiveCall]:
    with Loopback(
        bw_target,
        bxml_scope,
        bw_client,
        test_name=request.node.name,
        user_target=bw_settings.target,
        reproduce_prefix=bw_reproduce_prefix,
        pacer=bw_api_runner.pacer,
    ) as loop:
        loop.answer_callee(HOLD)
        loop.answer_caller(HOLD)
        with loop.real_time():
            yield LiveCall(loop)


class LiveCall:
    """A loopback call kept up for PUT BXML; a new one is placed when a document ended it."""

    def __init__(self, loop: Loopback) -> None:
        self.loop = loop
        self.call_id: str | None = None
        self.calls = 0

    def current(self) -> str:
        if self.call_id is not None:
            state = self.loop.call_state(self.call_id)
            if state.get("state") == "answered":
                return self.call_id
        self.call_id = self.loop.place()
        self.calls += 1
        self.loop.wait_for("answer", call_id=self.call_id)  # its BXML is running
        return self.call_id

    def put(self, document: str) -> tuple[str, httpx.Response]:
        """PUT ``document`` on a live call (a fresh one when the call ended before the request)."""
        call_id = self.current()
        response = self.loop.put_bxml(call_id, document)
        if response.status_code == 409:  # it ended between the check and the PUT: once more
            self.call_id = None
            call_id = self.current()
            response = self.loop.put_bxml(call_id, document)
        return call_id, response


def _budget(bw_settings: Settings) -> settings:
    return settings(
        max_examples=bw_settings.max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking against a live target
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )


def _seeded(test: Any, bw_settings: Settings) -> Any:
    """``test`` drawing from the run's seed, so the same seed sends the same documents."""
    return test if bw_settings.seed is None else seed(bw_settings.seed)(test)


def _shown(document: str) -> str:
    return document if len(document) <= 600 else document[:600] + f"... ({len(document)} chars)"


def test_valid_bxml_is_accepted_on_a_live_call(live: LiveCall, bw_settings: Settings) -> None:
    loop = live.loop
    flow = "PUT BXML: valid documents are accepted"

    @_budget(bw_settings)
    @given(document=VALID_DOCUMENTS if loop.simulated else VALID_DOCUMENTS_NO_DIALING)
    def check(document: str) -> None:
        if not is_valid(document, "call"):
            reject()  # the generator slipped: not a valid document, so no claim about it
        if loop.simulated:
            document = localise(document)
        call_id, response = live.put(document)
        loop.require(
            response.status_code == 204,
            flow,
            "valid BXML is accepted with 204",
            expected=204,
            received=f"{response.status_code} {response.text[:300]} for call {call_id}\n{_shown(document)}",
        )
        loop.put_bxml(call_id, HOLD)  # keep the call up (409 when the document already ended it)

    _seeded(check, bw_settings)()


def _voice_api_error(response: httpx.Response) -> str | None:
    """What is wrong with ``response`` as a voiceApiError body, or ``None``."""
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return f"the body is not JSON: {response.text[:200]!r}"
    if not isinstance(body, dict):
        return f"the body is not an object: {body!r}"
    if not isinstance(body.get("type"), str) or not isinstance(body.get("description"), str):
        return f"the body lacks voiceApiError's type and description: {body!r}"
    return None


def test_invalid_bxml_is_rejected_without_harming_the_call(live: LiveCall, bw_settings: Settings) -> None:
    loop = live.loop
    flow = "PUT BXML: invalid documents are rejected"

    @_budget(bw_settings)
    @given(case=INVALID_DOCUMENTS if loop.simulated else INVALID_DOCUMENTS_ON_THE_PLATFORM)
    def check(case: tuple[str, str]) -> None:
        document, rule = case
        call_id, response = live.put(document)
        evidence = f"{response.status_code} {response.text[:300]} for call {call_id}; broken rule {rule}\n"
        loop.require(
            response.status_code == 400,
            flow,
            "invalid BXML is rejected with 400",
            expected=400,
            received=evidence + _shown(document),
        )
        problem = _voice_api_error(response)
        loop.require(
            problem is None,
            flow,
            "the 400 carries a voiceApiError body",
            expected="a voiceApiError body",
            received=f"{problem}; {rule}",
        )
        state = loop.call_state(call_id)
        loop.require(
            state.get("state") == "answered",
            flow,
            "a rejected document leaves the call up",
            expected="state answered",
            received=f"{state.get('state')} ({state.get('disconnectCause')}) after {rule}",
        )
        again = loop.put_bxml(call_id, HOLD)
        loop.require(
            again.status_code == 204,
            flow,
            "after a rejected document the call still takes a valid one",
            expected=204,
            received=f"{again.status_code} {again.text[:200]} after {rule}",
        )

    _seeded(check, bw_settings)()
