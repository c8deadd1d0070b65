"""Payload strategies for one webhook event: its JSON Schema walked, then made self-consistent.

After the walk every payload is patched so that it reads like one the platform would send: the
``eventType`` names the event, times follow one timeline (``enqueuedTime <= startTime <= answerTime
<= endTime <= eventTime``), a recording's ``duration`` fits between its start and end, and
``callUrl``/``mediaUrl`` point at the payload's own account, call and recording.  A patch that would
break the event's schema is dropped, so every payload validates against its schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from conformance.fuzz import values
from conformance.fuzz.schema import SchemaStrategies
from conformance.webhooks.events import EventType

# The order the platform's clocks move in; ``eventTime`` is when the webhook itself was sent.
TIME_FIELDS = ("enqueuedTime", "startTime", "answerTime", "endTime", "eventTime")


@dataclass(frozen=True)
class Timeline:
    """One call's clock readings; ``duration`` is the recorded span that ends at ``end``."""

    enqueued: datetime
    start: datetime
    answer: datetime
    end: datetime
    event: datetime
    duration: Decimal
    style: int  # fractional digits used when formatting: 0, 3 or 6

    def value(self, field: str) -> datetime:
        return {
            "enqueuedTime": self.enqueued,
            "startTime": self.start,
            "answerTime": self.answer,
            "endTime": self.end,
            "eventTime": self.event,
        }[field]


def _timeline(
    enqueued: datetime, queued: int, ringing: int, duration: Decimal, tail: int, delay: int, style: int
) -> Timeline:
    start = enqueued + timedelta(milliseconds=queued)
    answer = start + timedelta(milliseconds=ringing)
    end = answer + timedelta(seconds=float(duration), milliseconds=tail)
    return Timeline(enqueued, start, answer, end, end + timedelta(milliseconds=delay), duration, style)


_TIMELINES = st.builds(
    _timeline,
    values.instants(),
    st.integers(0, 30_000),
    st.integers(0, 90_000),
    values.duration_seconds(),
    st.integers(0, 600_000),
    st.integers(0, 5_000),
    st.sampled_from((3, 3, 6, 0)),
)


def timelines() -> st.SearchStrategy[Timeline]:
    """Ordered instants: queued, started, answered, ended (after a recording), webhook sent."""
    return _TIMELINES


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(dict(schema), format_checker=Draft202012Validator.FORMAT_CHECKER)


# Top-level keywords under which a payload is valid exactly when each of its fields is.
_PER_FIELD = frozenset({"type", "properties", "required", "description", "examples", "$schema", "title"})


class PatchChecker:
    """Whether a payload drawn from its schema still matches it after some fields were replaced.

    Validating a whole payload costs about 0.4 ms (jsonschema, formats checked), as much as a
    fifth of drawing it; when the schema constrains each field on its own (no ``anyOf`` and the
    like at the top) only the replaced fields are checked, each against its own schema, and a
    removed field only against ``required``.  Otherwise the whole payload is validated."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.whole = _validator(schema)
        self.required = frozenset(schema.get("required", ()))
        properties = schema.get("properties", {})
        per_field = set(schema) <= _PER_FIELD and schema.get("type", "object") == "object"
        self._schemas: Mapping[str, Any] | None = properties if per_field else None
        self._fields: dict[str, Draft202012Validator] = {}

    def accepts(self, drawn: Mapping[str, Any], patched: Mapping[str, Any]) -> bool:
        """``drawn`` is a draw of the schema's own strategy; ``patched`` is it with fields replaced."""
        if self._schemas is None:
            return bool(self.whole.is_valid(dict(patched)))
        for key in drawn.keys() - patched.keys():
            if key in self.required:
                return False
        for key, value in patched.items():
            if key in drawn and drawn[key] is value:
                continue
            schema = self._schemas.get(key)
            if schema is None:  # a field the schema does not name: let the whole schema decide
                return bool(self.whole.is_valid(dict(patched)))
            check = self._fields.get(key)
            if check is None:
                check = self._fields[key] = _validator(schema)
            if not check.is_valid(value):
                return False
        return True


def harmonise(payload: dict[str, Any], timeline: Timeline) -> dict[str, Any]:
    """Return ``payload`` with its times, duration and URLs made consistent (a new dict)."""
    result = dict(payload)
    for field in TIME_FIELDS:
        if isinstance(result.get(field), str):
            result[field] = values.format_time(timeline.value(field), timeline.style)
    if isinstance(result.get("duration"), str):
        result["duration"] = values.iso_duration(timeline.duration)
    return link_urls(result)


def link_urls(result: dict[str, Any]) -> dict[str, Any]:
    """Point ``callUrl`` and ``mediaUrl`` at the payload's own account, call and recording (in place)."""
    account, call = result.get("accountId"), result.get("callId")
    if isinstance(result.get("callUrl"), str) and isinstance(account, str) and isinstance(call, str):
        result["callUrl"] = values.call_url(account, call)
    recording = result.get("recordingId")
    if isinstance(result.get("mediaUrl"), str) and isinstance(account, str) and isinstance(recording, str):
        conference = result.get("conferenceId")
        if isinstance(call, str):
            owner = values.call_url(account, call)
        elif isinstance(conference, str):
            owner = f"{values.API_ROOT}/accounts/{account}/conferences/{conference}"
        else:
            return result
        result["mediaUrl"] = f"{owner}/recordings/{recording}/media"
    return result


def rewritten_fields(event: EventType) -> dict[str, str]:
    """The top-level string fields :func:`harmonise` always rewrites, each with a valid example.

    Their drawn value would be thrown away, so they are drawn as that example: no choices to make
    or shrink.  (Measured: the time fields alone were about a fifth of a payload's draws.)  Only
    fields whose schema gives an example it accepts; ``callUrl`` and ``mediaUrl`` only when the ids
    they are rebuilt from are required."""
    properties: Mapping[str, Any] = event.schema.get("properties", {})
    required = set(event.required)
    names = [*TIME_FIELDS, "duration"]
    if {"accountId", "callId"} <= required:
        names.append("callUrl")
    if {"accountId", "recordingId"} <= required and {"callId", "conferenceId"} & required:
        names.append("mediaUrl")
    fixed: dict[str, str] = {}
    for name in names:
        schema = properties.get(name)
        if not isinstance(schema, Mapping):
            continue
        check = _validator(schema)
        example = next(
            (v for v in schema.get("examples", ()) if isinstance(v, str) and check.is_valid(v)), None
        )
        if example is not None:
            fixed[name] = example
    return fixed


class PayloadFactory:
    """Caches one strategy and one validator per event; see :func:`payloads`."""

    def __init__(self, builder: SchemaStrategies | None = None) -> None:
        self.builder = builder or SchemaStrategies()

    def raw(self, event: EventType) -> st.SearchStrategy[dict[str, Any]]:
        """Schema-valid payloads before they are made consistent (rewritten fields fixed)."""
        strategy: st.SearchStrategy[dict[str, Any]] = self._builder(event).build(self._schema(event))
        return strategy

    @staticmethod
    def _schema(event: EventType) -> dict[str, Any]:
        """The event's schema with its ``eventType`` pinned to the event's name."""
        schema = dict(event.schema)
        properties = dict(schema.get("properties", {}))
        if "eventType" in properties and not {"const", "enum"} & set(properties["eventType"]):
            properties["eventType"] = {**properties["eventType"], "const": event.name}
            schema["properties"] = properties
        return schema

    def _builder(self, event: EventType) -> SchemaStrategies:
        return SchemaStrategies(self.builder.overrides, self.builder.formats, rewritten_fields(event))

    def payloads(self, event: EventType) -> st.SearchStrategy[dict[str, Any]]:
        checker = PatchChecker(event.schema)

        def finish(raw: dict[str, Any], timeline: Timeline) -> dict[str, Any]:
            patched = harmonise(raw, timeline)
            return patched if checker.accepts(raw, patched) else raw

        return self._builder(event).build_with(self._schema(event), timelines(), finish)


# (kind, name, id of the schema) -> (event, strategy); the event is kept so the id stays unique.
_CACHE: dict[tuple[str, str, int], tuple[EventType, st.SearchStrategy[dict[str, Any]]]] = {}


def _cached(kind: str, event: EventType) -> st.SearchStrategy[dict[str, Any]]:
    key = (kind, event.name, id(event.schema))
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) > 512:
            _CACHE.clear()
        factory = PayloadFactory()
        hit = _CACHE[key] = (event, factory.payloads(event) if kind == "payloads" else factory.raw(event))
    return hit[1]


def payloads(event: EventType) -> st.SearchStrategy[dict[str, Any]]:
    """Realistic, schema-valid, self-consistent payloads of ``event``."""
    return _cached("payloads", event)


def raw_payloads(event: EventType) -> st.SearchStrategy[dict[str, Any]]:
    """Schema-valid payloads of ``event`` whose times, duration and URLs the caller sets (the
    fields :func:`rewritten_fields` names hold a fixed example)."""
    return _cached("raw", event)


def validator_for(event: EventType) -> Draft202012Validator:
    """A validator for ``event``'s payload schema (with format checking)."""
    return _validator(event.schema)


__all__ = [
    "TIME_FIELDS",
    "PatchChecker",
    "PayloadFactory",
    "Timeline",
    "harmonise",
    "link_urls",
    "payloads",
    "raw_payloads",
    "rewritten_fields",
    "timelines",
    "validator_for",
]
