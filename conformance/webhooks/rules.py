"""Field rules of flow expectations, and the shapes they work on.

A rule looks at the payloads of the received webhooks, in order of arrival, and returns its
:class:`Mismatch` list: :func:`same`, :func:`non_decreasing`, :func:`carries_tag`, :func:`equals`,
:func:`matches`.  ``events=`` limits a rule to some event types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeAlias

from conformance.errors import ConformanceError
from conformance.webhooks.payloads import is_date_time


class ExpectationError(ConformanceError, ValueError):
    """A flow or rule was written with arguments that cannot work."""

    reason = "bad-expectation"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Mismatch:
    """One difference between the flow and what was received (``position`` is 1-based)."""

    kind: str  # missing | extra | unexpected | order | field
    subject: str  # the event, or "event.field"
    actual: Any
    expected: Any
    position: int | None = None

    def __str__(self) -> str:
        where = f" (#{self.position})" if self.position is not None else ""
        if self.kind == "unexpected":
            return f"unexpected: {self.subject}{where} is not in the flow"
        if self.kind == "order":
            return f"order: {self.subject}{where} arrived {self.actual}; expected {self.expected}"
        return f"{self.kind}: {self.subject}{where}: received {self.actual!r}, expected {self.expected!r}"


@dataclass(frozen=True)
class Observed:
    """A received webhook as the expectations see it."""

    position: int
    event: str
    payload: Mapping[str, Any]
    received_at: datetime | None = None

    @property
    def call_id(self) -> str | None:
        value = self.payload.get("callId")
        return value if isinstance(value, str) else None


class _HasPayload(Protocol):
    @property
    def payload(self) -> Mapping[str, Any] | None: ...


Received: TypeAlias = Mapping[str, Any] | _HasPayload


def observe(received: Sequence[Received]) -> list[Observed]:
    """Normalise sink records or plain payloads (positions count from 1)."""
    items: list[Observed] = []
    for position, entry in enumerate(received, start=1):
        if isinstance(entry, Mapping):
            payload: Mapping[str, Any] = entry
            when = None
        else:
            payload = entry.payload or {}
            when = getattr(entry, "received_at", None)
        event = payload.get("eventType")
        items.append(Observed(position, event if isinstance(event, str) else "<no eventType>", payload, when))
    return items


def field_value(payload: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path``, or :data:`MISSING`."""
    node: Any = payload
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


# -- field rules ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """Base of the field rules; ``events`` limits a rule to some event types (None: every one)."""

    events: tuple[str, ...] | None = field(default=None, kw_only=True)

    def applies(self, item: Observed) -> bool:
        return self.events is None or item.event in self.events

    def difference(self, items: Sequence[Observed]) -> list[Mismatch]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Same(Rule):
    field: str

    def describe(self) -> str:
        return f"same({self.field})"

    def difference(self, items: Sequence[Observed]) -> list[Mismatch]:
        chosen = [item for item in items if self.applies(item)]
        reference = next(
            (v for v in (field_value(i.payload, self.field) for i in chosen) if v is not MISSING), MISSING
        )
        return [
            Mismatch("field", f"{item.event}.{self.field}", value, reference, item.position)
            for item in chosen
            if (value := field_value(item.payload, self.field)) != reference or value is MISSING
        ]


def _sortable(value: Any) -> datetime | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and is_date_time(value) and "T" in value.upper():
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return None


def _before(key: datetime | float, bound: datetime | float) -> bool:
    if isinstance(key, datetime) and isinstance(bound, datetime):
        return key < bound
    if isinstance(key, float) and isinstance(bound, float):
        return key < bound
    return False


@dataclass(frozen=True)
class NonDecreasing(Rule):
    field: str = "eventTime"

    def describe(self) -> str:
        return f"non_decreasing({self.field})"

    def difference(self, items: Sequence[Observed]) -> list[Mismatch]:
        mismatches: list[Mismatch] = []
        highest: tuple[Any, Any] | None = None  # (sortable, raw)
        for item in items:
            if not self.applies(item):
                continue
            raw = field_value(item.payload, self.field)
            key = _sortable(raw)
            subject = f"{item.event}.{self.field}"
            if key is None:
                mismatches.append(Mismatch("field", subject, raw, "a date-time or a number", item.position))
            elif highest is not None and _before(key, highest[0]):
                mismatches.append(Mismatch("field", subject, raw, f">= {highest[1]}", item.position))
            else:
                highest = (key, raw)
        return mismatches


@dataclass(frozen=True)
class CarriesTag(Rule):
    tag: str | None
    start: str | None = None
    stop: str | None = None

    def describe(self) -> str:
        span = "".join(
            f", {name}={value!r}" for name, value in (("start", self.start), ("stop", self.stop)) if value
        )
        return f"carries_tag({self.tag!r}{span})"

    def difference(self, items: Sequence[Observed]) -> list[Mismatch]:
        active = self.start is None
        mismatches: list[Mismatch] = []
        for item in items:
            if self.start is not None and item.event == self.start:
                active = True
            if self.stop is not None and item.event == self.stop and active:
                break
            if not active or not self.applies(item):
                continue
            value = field_value(item.payload, "tag")
            actual = None if value is MISSING else value
            if actual != self.tag:
                shown = value if self.tag is not None or value is not MISSING else MISSING
                mismatches.append(Mismatch("field", f"{item.event}.tag", shown, self.tag, item.position))
        return mismatches


@dataclass(frozen=True)
class Equals(Rule):
    field: str
    value: Any

    def describe(self) -> str:
        return f"equals({self.field}, {self.value!r})"

    def difference(self, items: Sequence[Observed]) -> list[Mismatch]:
        return [
            Mismatch("field", f"{item.event}.{self.field}", actual, self.value, item.position)
            for item in items
            if self.applies(item) and (actual := field_value(item.payload, self.field)) != self.value
        ]


@dataclass(frozen=True)
class Matches(Rule):
    field: str
    pattern: str

    def describe(self) -> str:
        return f"matches({self.field}, {self.pattern!r})"

    def difference(self, items: Sequence[Observed]) -> list[Mismatch]:
        regex = re.compile(self.pattern)
        return [
            Mismatch(
                "field", f"{item.event}.{self.field}", actual, f"matching /{self.pattern}/", item.position
            )
            for item in items
            if self.applies(item)
            and not (
                isinstance(actual := field_value(item.payload, self.field), str) and regex.fullmatch(actual)
            )
        ]


def same(field: str, *, events: Sequence[str] | None = None) -> Same:
    """Every (selected) webhook carries the same value of ``field`` (dotted path)."""
    return Same(field, events=tuple(events) if events is not None else None)


def non_decreasing(field: str = "eventTime", *, events: Sequence[str] | None = None) -> NonDecreasing:
    """``field`` (a date-time or a number) never goes backwards in order of arrival."""
    return NonDecreasing(field, events=tuple(events) if events is not None else None)


def carries_tag(
    tag: str | None, *, start: str | None = None, stop: str | None = None, events: Sequence[str] | None = None
) -> CarriesTag:
    """Webhooks carry ``tag`` (None: no tag) from the first ``start`` event (inclusive; default the
    first webhook) until the first ``stop`` event after it (exclusive; default the last webhook)."""
    return CarriesTag(tag, start, stop, events=tuple(events) if events is not None else None)


def equals(field: str, value: Any, *, events: Sequence[str] | None = None) -> Equals:
    """``field`` equals ``value`` in every (selected) webhook."""
    return Equals(field, value, events=tuple(events) if events is not None else None)


def matches(field: str, pattern: str, *, events: Sequence[str] | None = None) -> Matches:
    """``field`` is a string matching ``pattern`` entirely (``re.fullmatch``)."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ExpectationError(f"bad regular expression {pattern!r}: {exc}") from exc
    return Matches(field, pattern, events=tuple(events) if events is not None else None)


__all__ = [
    "MISSING",
    "CarriesTag",
    "Equals",
    "ExpectationError",
    "Matches",
    "Mismatch",
    "NonDecreasing",
    "Observed",
    "Received",
    "Rule",
    "Same",
    "carries_tag",
    "equals",
    "field_value",
    "matches",
    "non_decreasing",
    "observe",
    "same",
]
