"""The catalogue of webhook events, read from the ``webhooks`` section of ``openapi/``.

Convention in the contract (``openapi/bandwidth-voice.yml``): each key of ``webhooks`` is an
``eventType`` value (``answer``, ``recordComplete``, ``mediaStreamStarted`` ...) with one ``post``
operation whose ``application/json`` request body is the payload schema, and two extensions:

``x-bxml-reply``
    the BXML context the platform validates the reply in: ``call``, ``conference`` or
    ``transferAnswer``; ``none`` when the event takes no BXML (the reply body is ignored).
``x-empty-reply-allowed``
    whether an empty 2xx reply is acceptable for a BXML event (conference events).

This module is the one reader of that section: the simulator, the sink, the suites and the fuzzer
all ask it, so the contract stays the single source of truth.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from conformance.errors import ResourceNotFoundError
from conformance.resources import load_spec

ReplyContext = Literal["call", "conference", "transferAnswer"]


@dataclass(frozen=True)
class EventType:
    """One webhook event of the contract."""

    name: str
    schema: dict[str, Any]  # standalone JSON Schema (2020-12) with every local $ref inlined
    bxml_context: ReplyContext | None  # None: the event takes no BXML
    empty_reply_allowed: bool
    required: tuple[str, ...]
    properties: tuple[str, ...]

    @property
    def expects_bxml(self) -> bool:
        return self.bxml_context is not None


def _resolve(node: Any, spec: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                raise ResourceNotFoundError(f"non-local $ref {ref!r} in webhook schema")
            if ref in seen:
                raise ResourceNotFoundError(f"recursive $ref {ref!r} in webhook schema")
            target: Any = spec
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            resolved = _resolve(copy.deepcopy(target), spec, (*seen, ref))
            if siblings and isinstance(resolved, dict):
                resolved = {**resolved, **_resolve(siblings, spec, seen)}
            return resolved
        return {key: _resolve(value, spec, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, spec, seen) for item in node]
    return node


def _properties(schema: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    required: list[str] = list(schema.get("required", []))
    properties: list[str] = list(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        sub_required, sub_properties = _properties(part)
        required.extend(r for r in sub_required if r not in required)
        properties.extend(p for p in sub_properties if p not in properties)
    return tuple(required), tuple(properties)


@cache
def catalogue() -> dict[str, EventType]:
    """Every webhook event of the contract, by ``eventType``."""
    spec = load_spec()
    webhooks = spec.get("webhooks")
    if not isinstance(webhooks, dict) or not webhooks:
        raise ResourceNotFoundError("the contract has no webhooks section")
    events: dict[str, EventType] = {}
    for name, item in webhooks.items():
        operation = item.get("post") if isinstance(item, dict) else None
        if not isinstance(operation, dict):
            raise ResourceNotFoundError(f"webhook {name!r} has no post operation")
        raw = operation["requestBody"]["content"]["application/json"]["schema"]
        schema = _resolve(raw, spec)
        schema.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
        reply = operation.get("x-bxml-reply", "none")
        if reply not in {"call", "conference", "transferAnswer", "none"}:
            raise ResourceNotFoundError(f"webhook {name!r} has x-bxml-reply {reply!r}")
        required, properties = _properties(schema)
        events[name] = EventType(
            name=name,
            schema=schema,
            bxml_context=None if reply == "none" else reply,
            empty_reply_allowed=bool(operation.get("x-empty-reply-allowed", False)),
            required=required,
            properties=properties,
        )
    return events


def event(name: str) -> EventType:
    """The event named ``name``; ``KeyError`` naming the known events when there is none."""
    events = catalogue()
    try:
        return events[name]
    except KeyError:
        known = ", ".join(sorted(events))
        raise KeyError(f"unknown webhook event {name!r}; known: {known}") from None


__all__ = ["EventType", "ReplyContext", "catalogue", "event"]
