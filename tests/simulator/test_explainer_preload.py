"""Building xmlschema's model of the grammar (the words for an invalid document, ~0.5 s of CPU) never
happens on the simulator's event loop: the engine builds it on a worker thread when it starts, and
until it is built a PUT BXML is validated on a worker thread too."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from conformance.bxml import schema
from conformance.simulator import Simulator, ops_calls


def test_the_engine_builds_the_explainer_on_a_worker_thread_when_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schema, "_explainer", None)  # as in a fresh process
    built_on: list[str] = []
    original = schema.xmlschema_schema

    def recording() -> object:
        built_on.append(threading.current_thread().name)
        return original()

    monkeypatch.setattr("conformance.simulator.engine.core.xmlschema_schema", recording)
    with Simulator() as sim:
        loop_thread = sim._thread.name if sim._thread is not None else ""
        for _ in range(600):  # no invalid document is sent: only the preload can build it
            if schema.explainer_loaded():
                break
            time.sleep(0.05)
    assert schema.explainer_loaded()
    assert built_on
    assert loop_thread not in built_on


@pytest.mark.parametrize("loaded", [False, True])
def test_put_bxml_is_validated_off_the_loop_until_the_explainer_is_built(
    monkeypatch: pytest.MonkeyPatch, loaded: bool
) -> None:
    monkeypatch.setattr(ops_calls, "explainer_loaded", lambda: loaded)
    checked_on: list[int] = []
    monkeypatch.setattr(
        ops_calls, "check_bxml", lambda document, context: checked_on.append(threading.get_ident())
    )

    async def validate() -> int:
        await ops_calls.validate_bxml("<Response><Hangup/></Response>", "call")
        return threading.get_ident()

    loop_thread = asyncio.run(validate())
    assert len(checked_on) == 1
    assert (checked_on[0] == loop_thread) is loaded  # inline only once the explainer is there
