"""A small catalogue in the contract's shape, so the sink is tested without ``openapi/``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.webhooks import WebhookSink
from conformance.webhooks.events import EventType, ReplyContext

_CALL_FIELDS: dict[str, Any] = {
    "eventType": {"type": "string"},
    "eventTime": {"type": "string", "format": "date-time"},
    "accountId": {"type": "string"},
    "callId": {"type": "string"},
    "from": {"type": "string"},
    "to": {"type": "string"},
    "tag": {"type": ["string", "null"]},
}


def _event(
    name: str,
    context: ReplyContext | None,
    extra: dict[str, Any] | None = None,
    *,
    empty_ok: bool = False,
    required: tuple[str, ...] = ("eventType", "eventTime", "callId"),
) -> EventType:
    properties = {**_CALL_FIELDS, **(extra or {})}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": list(required),
        "properties": properties,
    }
    return EventType(
        name=name,
        schema=schema,
        bxml_context=context,
        empty_reply_allowed=empty_ok,
        required=required,
        properties=tuple(properties),
    )


SMALL_CATALOGUE: dict[str, EventType] = {
    e.name: e
    for e in (
        _event("initiate", "call"),
        _event("answer", "call"),
        _event("gather", "call", {"digits": {"type": "string"}, "terminatingDigit": {"type": "string"}}),
        _event("dtmf", None, {"digit": {"type": "string"}}),
        _event("disconnect", None, {"cause": {"type": "string"}, "sipResponseCode": {"type": "integer"}}),
        _event("recordComplete", "call", {"channels": {"type": "integer"}}),
        _event("recordingAvailable", None, {"channels": {"type": "integer"}}),
        _event("transcriptionAvailable", None),
        _event("transferAnswer", "transferAnswer"),
        _event("transferComplete", "call"),
        _event("transferDisconnect", None),
        _event(
            "conferenceCreated",
            "conference",
            {"conferenceId": {"type": "string"}, "name": {"type": "string"}},
            empty_ok=True,
            required=("eventType", "eventTime", "conferenceId"),
        ),
        _event(
            "machineDetectionComplete",
            None,
            {"enabled": {"type": "boolean"}, "score": {"type": "number"}},
        ),
    )
}


def payload(event: str, call_id: str = "c-1", second: int = 0, **fields: Any) -> dict[str, Any]:
    """A valid payload of the small catalogue; ``second`` sets eventTime within one minute."""
    data: dict[str, Any] = {
        "eventType": event,
        "eventTime": f"2026-01-02T03:04:{second:02d}.000Z",
        "accountId": "9900000",
        "callId": call_id,
        "from": "+15555550100",
        "to": "+15555550101",
    }
    if event == "conferenceCreated":
        data["conferenceId"] = "conf-1"
    data.update(fields)
    return data


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink(catalogue=SMALL_CATALOGUE) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5.0) as http:
        yield http
