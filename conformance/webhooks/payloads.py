"""Reading a webhook payload out of a request and checking it against the contract's schema.

A POST carries the payload as a JSON body; a GET (``*Method="GET"`` in BXML) carries the same
properties as query parameters, all strings, so they are typed back where the event's schema says
integer, number or boolean before validation.  Validation uses JSON Schema Draft 2020-12 with the
``date-time`` format checked (RFC 3339), so a malformed ``eventTime`` is a problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

from conformance.webhooks.events import EventType
from conformance.webhooks.records import PayloadProblem

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)


def is_date_time(value: object) -> bool:
    """Whether ``value`` is an RFC 3339 date-time (non-strings pass, as JSON Schema formats do)."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(is_date_time)
    return checker


def _types_of(schema: Mapping[str, Any]) -> set[str]:
    types: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(t for t in declared if isinstance(t, str))
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            if isinstance(part, Mapping):
                types |= _types_of(part)
    return types


def _property_schema(schema: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and isinstance(properties.get(name), Mapping):
        found: Mapping[str, Any] = properties[name]
        return found
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            if isinstance(part, Mapping):
                sub = _property_schema(part, name)
                if sub is not None:
                    return sub
    return None


def _typed(text: str, types: set[str]) -> Any:
    if "boolean" in types and text in {"true", "false"}:
        return text == "true"
    if "integer" in types and re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if "number" in types and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        return float(text)
    if "null" in types and text == "" and "string" not in types:
        return None
    return text


def typed_query(query: Mapping[str, tuple[str, ...]], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Query parameters as a payload: one value per name, typed back by ``schema`` where it can be."""
    payload: dict[str, Any] = {}
    for name, values in query.items():
        if not values:
            continue
        text = values[-1]
        sub = _property_schema(schema, name) if schema is not None else None
        payload[name] = _typed(text, _types_of(sub)) if sub is not None else text
    return payload


def read_payload(
    method: str,
    content_type: str | None,
    body: bytes,
    query: Mapping[str, tuple[str, ...]],
    catalogue: Mapping[str, EventType],
) -> tuple[dict[str, Any] | None, list[PayloadProblem]]:
    """The payload of a request and the problems met reading it (before schema checks)."""
    if method == "GET":
        names = query.get("eventType", ())
        known = catalogue.get(names[-1]) if names else None
        return typed_query(query, known.schema if known is not None else None), []
    if method != "POST":
        return None, [PayloadProblem("method", "", f"webhooks are POST (or GET) requests, not {method}")]
    problems: list[PayloadProblem] = []
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        problems.append(
            PayloadProblem("content-type", "", f"Content-Type is {content_type!r}, not application/json")
        )
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(PayloadProblem("not-json", "", f"body is not JSON: {exc}"))
        return None, problems
    if not isinstance(data, dict):
        problems.append(
            PayloadProblem("not-object", "", f"JSON body is a {type(data).__name__}, not an object")
        )
        return None, problems
    return data, problems


def _dotted(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path)


class PayloadChecker:
    """Checks payloads against the catalogue's schemas; one compiled validator per event type."""

    def __init__(self, catalogue: Mapping[str, EventType]) -> None:
        self.catalogue = catalogue
        self._checker = _format_checker()
        self._validators: dict[str, Draft202012Validator] = {}

    def _validator(self, event: EventType) -> Draft202012Validator:
        validator = self._validators.get(event.name)
        if validator is None:
            validator = Draft202012Validator(event.schema, format_checker=self._checker)
            self._validators[event.name] = validator
        return validator

    def problems(self, payload: Mapping[str, Any]) -> list[PayloadProblem]:
        """Every way ``payload`` breaks the contract, in a stable order."""
        name = payload.get("eventType")
        if name is None:
            return [PayloadProblem("missing-event-type", "eventType", "the payload has no eventType")]
        if not isinstance(name, str) or name not in self.catalogue:
            known = ", ".join(sorted(self.catalogue))
            return [
                PayloadProblem(
                    "unknown-event-type", "eventType", f"{name!r} is not an event of the contract ({known})"
                )
            ]
        errors = sorted(
            self._validator(self.catalogue[name]).iter_errors(dict(payload)),
            key=lambda e: (_dotted(e.absolute_path), e.message),
        )
        problems: list[PayloadProblem] = []
        for error in errors:
            where = _dotted(error.absolute_path)
            if error.validator == "required" and isinstance(error.instance, Mapping):
                # one error per missing name (or one for all, in older drafts): one problem per name
                for name in error.validator_value:
                    if name in error.instance:
                        continue
                    path = f"{where}.{name}" if where else str(name)
                    problems.append(PayloadProblem("missing-field", path, "required field is missing"))
                continue
            problems.append(PayloadProblem("schema", where, error.message))
        return sorted(set(problems), key=lambda p: (p.field, p.reason, p.message))


__all__ = ["PayloadChecker", "is_date_time", "read_payload", "typed_query"]
