"""Flow expectations: which webhooks, in what (partial) order, with which field rules.

A :class:`Flow` is a chain of steps.  A step is an event name (exactly once), :func:`optional`,
:func:`count`, or :func:`any_order` / :func:`either_order` whose branches may interleave freely
(a branch is a step or a list of steps in order).  Everything earlier in a chain must come before
everything later, so ``Flow(["recordComplete", any_order(["recordingAvailable",
"transcriptionAvailable"], "disconnect")])`` says: recordComplete first, then the recording and
its transcription in that order, with disconnect anywhere after recordComplete.

Field rules check the payloads: :func:`same`, :func:`non_decreasing`, :func:`carries_tag`,
:func:`equals`, :func:`matches`.

``flow.difference(received)`` returns the mismatches as data; ``flow.check(received)`` raises
:class:`FlowMismatch` with a readable diff.  ``received`` is a sequence of sink
:class:`~conformance.webhooks.records.Webhook` records or of plain payload mappings.

Matching is greedy: each webhook takes the earliest slot of its event type that still has room and
has no later slot already filled; this is exact for the flows of the Voice API, where a repeated
event type appears in a chain, not in two branches of the same :func:`any_order`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from conformance.errors import ConformanceError
from conformance.webhooks.rules import (
    MISSING,
    CarriesTag,
    Equals,
    ExpectationError,
    Matches,
    Mismatch,
    NonDecreasing,
    Observed,
    Received,
    Rule,
    Same,
    carries_tag,
    equals,
    field_value,
    matches,
    non_decreasing,
    observe,
    same,
)


class FlowMismatch(ConformanceError, AssertionError):
    """What was received does not match the flow; ``mismatches`` holds the data."""

    reason = "flow-mismatch"

    def __init__(self, message: str, mismatches: Sequence[Mismatch]) -> None:
        super().__init__(message)
        self.mismatches = tuple(mismatches)


# -- steps --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expect:
    """An event expected between ``at_least`` and ``at_most`` (None: no limit) times."""

    event: str
    at_least: int = 1
    at_most: int | None = 1

    def __post_init__(self) -> None:
        if not isinstance(self.event, str) or not self.event:
            raise ExpectationError(f"an event name is a non-empty string, not {self.event!r}")
        if self.at_least < 0 or (self.at_most is not None and self.at_most < max(self.at_least, 1)):
            raise ExpectationError(f"bad count for {self.event!r}: {self.at_least}..{self.at_most}")

    def describe(self) -> str:
        if (self.at_least, self.at_most) == (1, 1):
            return self.event
        if (self.at_least, self.at_most) == (0, 1):
            return f"optional({self.event})"
        high = "*" if self.at_most is None else str(self.at_most)
        return f"{self.event}{{{self.at_least}..{high}}}"


@dataclass(frozen=True)
class AnyOrder:
    """Branches that may interleave; each branch is a chain of steps."""

    branches: tuple[tuple[Step, ...], ...]

    def describe(self) -> str:
        return "any_order(" + ", ".join(_describe_chain(b) for b in self.branches) + ")"


Step: TypeAlias = str | Expect | AnyOrder


def optional(event: str) -> Expect:
    """``event`` at most once."""
    return Expect(event, 0, 1)


def count(event: str, exactly: int | None = None, *, at_least: int = 0, at_most: int | None = None) -> Expect:
    """``event`` exactly ``exactly`` times, or between ``at_least`` and ``at_most`` (None: no limit)."""
    if exactly is not None:
        return Expect(event, exactly, exactly)
    return Expect(event, at_least, at_most)


def any_order(*branches: Step | Sequence[Step]) -> AnyOrder:
    """Branches in any relative order; a list as a branch is a chain kept in order."""
    if len(branches) < 2:
        raise ExpectationError("any_order needs at least two branches")
    chains: list[tuple[Step, ...]] = []
    for branch in branches:
        chain = (branch,) if isinstance(branch, str | Expect | AnyOrder) else tuple(branch)
        if not chain:
            raise ExpectationError("an any_order branch is empty")
        chains.append(chain)
    return AnyOrder(tuple(chains))


def either_order(first: Step | Sequence[Step], second: Step | Sequence[Step]) -> AnyOrder:
    """Two steps in either order (e.g. ``transferDisconnect`` and ``transferComplete``)."""
    return any_order(first, second)


def _describe_step(step: Step) -> str:
    return step if isinstance(step, str) else step.describe()


def _describe_chain(chain: Sequence[Step]) -> str:
    text = " -> ".join(_describe_step(s) for s in chain)
    return f"[{text}]" if len(chain) > 1 else text


# -- the flow ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Slot:
    index: int
    expect: Expect
    before: frozenset[int]  # slots whose webhooks must all arrive earlier


def _compile_chain(steps: Sequence[Step], preds: frozenset[int], slots: list[_Slot]) -> frozenset[int]:
    created: frozenset[int] = frozenset()
    for step in steps:
        made = _compile_step(step, preds | created, slots)
        created |= made
    return created


def _compile_step(step: Step, preds: frozenset[int], slots: list[_Slot]) -> frozenset[int]:
    if isinstance(step, str):
        step = Expect(step)
    if isinstance(step, Expect):
        slots.append(_Slot(len(slots), step, preds))
        return frozenset({len(slots) - 1})
    if isinstance(step, AnyOrder):
        made: frozenset[int] = frozenset()
        for branch in step.branches:
            made |= _compile_chain(branch, preds, slots)
        return made
    raise ExpectationError(f"a flow step is an event name, optional(), count() or any_order(), not {step!r}")


class Flow:
    """Expected webhooks as a partial order, plus field rules over their payloads.

    ``call_id`` keeps only the webhooks of that call; ``ignore`` drops event types entirely;
    with ``exhaustive`` (the default) an event type the flow does not name is a mismatch.
    """

    def __init__(
        self,
        steps: Sequence[Step],
        *,
        rules: Sequence[Rule] = (),
        name: str | None = None,
        call_id: str | None = None,
        ignore: Sequence[str] = (),
        exhaustive: bool = True,
    ) -> None:
        if isinstance(steps, str | Expect | AnyOrder) or not steps:
            raise ExpectationError("a flow is a non-empty list of steps")
        for rule in rules:
            if not isinstance(rule, Rule):
                raise ExpectationError(f"not a field rule: {rule!r}")
        self.steps = tuple(steps)
        self.rules = tuple(rules)
        self.name = name
        self.call_id = call_id
        self.ignore = frozenset(ignore)
        self.exhaustive = exhaustive
        self._slots: list[_Slot] = []
        _compile_chain(self.steps, frozenset(), self._slots)
        self.events = frozenset(slot.expect.event for slot in self._slots)
        overlap = self.events & self.ignore
        if overlap:
            raise ExpectationError(f"events both expected and ignored: {', '.join(sorted(overlap))}")

    def __repr__(self) -> str:
        return f"<Flow {self.describe()}>"

    def describe(self) -> str:
        return " -> ".join(_describe_step(step) for step in self.steps)

    def _select(self, received: Sequence[Received]) -> list[Observed]:
        return [
            item
            for item in observe(received)
            if item.event not in self.ignore and (self.call_id is None or item.call_id == self.call_id)
        ]

    def _assign(self, items: Sequence[Observed]) -> tuple[list[list[Observed]], list[Mismatch]]:
        assigned: list[list[Observed]] = [[] for _ in self._slots]
        mismatches: list[Mismatch] = []
        seen: dict[str, int] = {}
        for item in items:
            seen[item.event] = seen.get(item.event, 0) + 1
            same_event = [slot for slot in self._slots if slot.expect.event == item.event]
            room = [
                slot
                for slot in same_event
                if slot.expect.at_most is None or len(assigned[slot.index]) < slot.expect.at_most
            ]
            if not room:
                if same_event:
                    limit = sum(slot.expect.at_most or 0 for slot in same_event)
                    mismatches.append(Mismatch("extra", item.event, seen[item.event], limit, item.position))
                elif self.exhaustive:
                    mismatches.append(Mismatch("unexpected", item.event, item.event, None, item.position))
                continue

            def later_filled(slot: _Slot) -> bool:
                return any(assigned[other.index] for other in self._slots if slot.index in other.before)

            chosen = next((slot for slot in room if not later_filled(slot)), room[0])
            assigned[chosen.index].append(item)
        return assigned, mismatches

    def difference(self, received: Sequence[Received]) -> list[Mismatch]:
        """Every mismatch between the flow and ``received``, ordered by arrival (missing ones last)."""
        items = self._select(received)
        assigned, mismatches = self._assign(items)
        for slot in self._slots:
            got = assigned[slot.index]
            for item in got:
                for index in sorted(slot.before):
                    late = [other for other in assigned[index] if other.position > item.position]
                    if late:
                        earlier = self._slots[index].expect.event
                        mismatches.append(
                            Mismatch(
                                "order",
                                item.event,
                                f"before {earlier} #{late[0].position}",
                                f"after {earlier}",
                                item.position,
                            )
                        )
            if len(got) < slot.expect.at_least:
                mismatches.append(Mismatch("missing", slot.expect.event, len(got), slot.expect.at_least))
        for rule in self.rules:
            mismatches.extend(rule.difference(items))
        big = 1 << 62
        return sorted(mismatches, key=lambda m: big if m.position is None else m.position)

    def satisfied_by(self, received: Sequence[Received]) -> bool:
        return not self.difference(received)

    def check(self, received: Sequence[Received]) -> None:
        """Raise :class:`FlowMismatch` (a readable diff) unless ``received`` matches the flow."""
        mismatches = self.difference(received)
        if mismatches:
            raise FlowMismatch(self.report(received, mismatches), mismatches)

    def report(self, received: Sequence[Received], mismatches: Sequence[Mismatch]) -> str:
        """The diff: the expectation, what arrived (with marks), and each mismatch."""
        title = f"flow {self.name!r}" if self.name else "flow"
        lines = [
            f"{title} does not match what was received ({len(mismatches)} mismatch(es))",
            f"expected: {self.describe()}",
        ]
        if self.rules:
            lines.append("rules:    " + ", ".join(rule.describe() for rule in self.rules))
        if self.call_id:
            lines.append(f"call:     {self.call_id}")
        items = self._select(received)
        lines.append(f"received ({len(items)} webhook(s)):" if items else "received: nothing")
        by_position: dict[int, list[Mismatch]] = {}
        for mismatch in mismatches:
            if mismatch.position is not None:
                by_position.setdefault(mismatch.position, []).append(mismatch)
        for item in items:
            notes = by_position.get(item.position, [])
            when = field_value(item.payload, "eventTime")
            stamp = str(when) if when is not MISSING else "-"
            call = f"callId={item.call_id}" if item.call_id else ""
            mark = "!" if notes else " "
            note = ("  <- " + "; ".join(f"{m.kind} {m.subject}" for m in notes)) if notes else ""
            lines.append(f"  {mark} #{item.position:<3} {stamp:<30} {item.event:<24} {call}{note}".rstrip())
        lines.append("mismatches:")
        lines.extend(f"  - {mismatch}" for mismatch in mismatches)
        return "\n".join(lines)


__all__ = [
    "MISSING",
    "AnyOrder",
    "CarriesTag",
    "Equals",
    "Expect",
    "ExpectationError",
    "Flow",
    "FlowMismatch",
    "Matches",
    "Mismatch",
    "NonDecreasing",
    "Observed",
    "Received",
    "Rule",
    "Same",
    "Step",
    "any_order",
    "carries_tag",
    "count",
    "either_order",
    "equals",
    "field_value",
    "matches",
    "non_decreasing",
    "observe",
    "optional",
    "same",
]
