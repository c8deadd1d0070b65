"""Replaying one call's webhooks in order finds bugs that need an earlier webhook, and says which."""

from __future__ import annotations

from typing import Any

from conformance.fuzz import SCENARIOS, Fuzzer, FuzzSettings, Target, fuzz_app
from conformance.webhooks.events import catalogue

from . import apps

TRANSFER = next(s for s in SCENARIOS if s.name == "transfer")


class RemembersCalls(apps.IvrHandlers):
    """Keeps per-call state from initiate, and mishandles transferComplete for a call it knows."""

    def __init__(self) -> None:
        self.calls: dict[str, str] = {}
        self.log: list[tuple[str, dict[str, Any]]] = []

    def _seen(self, event: str, payload: Any) -> None:
        self.log.append((event, dict(payload)))

    def initiate(self, payload: Any) -> str | None:
        self._seen("initiate", payload)
        self.calls[payload["callId"]] = "menu"
        return super().initiate(payload)

    def gather(self, payload: Any) -> str | None:
        self._seen("gather", payload)
        return super().gather(payload)

    def transferAnswer(self, payload: Any) -> str | None:
        self._seen("transferAnswer", payload)
        return super().transferAnswer(payload)

    def transferComplete(self, payload: Any) -> str | None:
        self._seen("transferComplete", payload)
        if payload["callId"] in self.calls:
            return None  # forgets to answer a call it knows: an empty reply to a call event
        return super().transferComplete(payload)

    def informational(self, payload: Any) -> str | None:
        self._seen(str(payload.get("eventType")), payload)
        return None


def test_a_state_dependent_bug_is_found_in_sequence_with_its_setup() -> None:
    handlers = RemembersCalls()
    with Target(apps.create_app(handlers)) as target:
        fuzzer = Fuzzer(target, catalogue(), FuzzSettings(max_examples=10, seed=4, shrink_time=3))
        fuzzer.fuzz_sequence(TRANSFER)
    (finding,) = fuzzer.report.findings
    assert (finding.event, finding.check, finding.scenario) == ("transferComplete", "empty_reply", "transfer")
    names = [name for name, _ in finding.preceding]
    assert names[0] == "initiate"
    assert names == [name for name, _ in TRANSFER.steps][: finding.step]
    assert finding.preceding[0][1]["callId"] == finding.payload["callId"]
    assert len(finding.setup_curls) == len(names)
    assert "first: curl" in finding.describe()


class Logs(RemembersCalls):
    """The same log, and a correct reply to transferComplete."""

    def transferComplete(self, payload: Any) -> str | None:
        self._seen("transferComplete", payload)
        return apps.IvrHandlers.transferComplete(self, payload)


def test_the_app_sees_whole_calls_in_documented_order() -> None:
    handlers = Logs()
    with Target(apps.create_app(handlers)) as target:
        fuzzer = Fuzzer(target, catalogue(), FuzzSettings(max_examples=5, seed=9))
        fuzzer.fuzz_sequence(TRANSFER)
    assert fuzzer.report.ok, fuzzer.report.format_text()
    order = [name for name, _ in TRANSFER.steps]
    legs = dict(TRANSFER.steps)
    assert handlers.log
    assert len(handlers.log) % len(order) == 0
    for start in range(0, len(handlers.log), len(order)):
        call = handlers.log[start : start + len(order)]
        assert [name for name, _ in call] == order
        a_leg = call[0][1]["callId"]
        for name, payload in call:
            if legs[name] == "A":
                assert payload["callId"] == a_leg
            else:
                assert payload["parentCallId"] == a_leg
                assert payload["callId"] != a_leg


def test_the_same_seed_gives_the_same_findings() -> None:
    def run(seed: int) -> list[tuple[str, str, str]]:
        report = fuzz_app(apps.create_app(apps.UnescapedTag()), events=["answer"], max_examples=20, seed=seed)
        return [(f.event, f.check, repr(sorted(f.payload.items()))) for f in report.findings]

    # The first seed that finds the bug (nearly every seed does; which one is first changes with the
    # generators), so that the comparison is never between two empty lists.
    seed, first = next((seed, found) for seed in range(21, 41) if (found := run(seed)))
    assert run(seed) == first
