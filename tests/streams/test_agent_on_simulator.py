"""End to end: the example agent on a simulator call hears the other leg's digits and is heard back.

The embedded simulator (the plugin's ``bw_target``) places a loopback call; the caller's leg streams
bidirectionally to the agent; the callee sends DTMF 4 2 and listens with ``<StartGather>``.  The
callee's gather reports the digits only because the agent answered them: with ``answer=False`` the
same call gathers nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conformance.suites.loopback import Loopback
from conformance.target import Target
from conformance.webhooks import SinkScope

from .agents import agent_module, serving


@pytest.fixture
def loop(bw_target: Target, bw_webhooks: SinkScope, bw_client: httpx.Client) -> Iterator[Loopback]:
    with Loopback(bw_target, bw_webhooks, bw_client, test_name="agent-on-simulator") as harness:
        yield harness


@pytest.mark.parametrize(("answer", "gathered"), [(True, ["4", "2"]), (False, [])])
def test_the_other_leg_gathers_the_digits_the_agent_answers(
    loop: Loopback, answer: bool, gathered: list[str]
) -> None:
    agent = agent_module.Agent(answer=answer)
    with serving(agent) as url:
        loop.answer_callee(
            f'<Response><StartGather dtmfUrl="{loop.url("dtmf")}"/><Pause duration="0.3"/>'
            '<SendDtmf toneDuration="200">42</SendDtmf><Pause duration="1.2"/><Hangup/></Response>'
        )
        loop.answer_caller(
            f'<Response><StartStream name="bot" mode="bidirectional" destination="{url}"/>'
            '<Pause duration="30"/></Response>'
        )
        call_id = loop.place()
        loop.wait_for("disconnect", call_id=call_id)
        callee = loop.callee_id()
        loop.wait_for("disconnect", call_id=callee)
    assert list(agent.heard.values()) == ["42"]
    digits = [(w.payload or {}).get("digit") for w in loop.received() if w.event_type == "dtmf"]
    assert digits == gathered
