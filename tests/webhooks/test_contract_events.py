"""The sink against the real contract: every event of ``openapi/`` webhooks, built from its examples."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.bxml import is_valid
from conformance.webhooks import WebhookSink, events
from conformance.webhooks.payloads import PayloadChecker
from conformance.webhooks.script import DEFAULT_BXML, default_reply

CATALOGUE = events.catalogue()
NAMES = sorted(CATALOGUE)


def example(schema: dict[str, Any]) -> Any:
    """A value for ``schema`` from its const, first example or first enum member (objects: required
    properties, recursively)."""
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        for part in schema.get(key, []):
            if part.get("type") != "null":
                return example(part)
    if "properties" in schema or schema.get("type") == "object":
        required = schema.get("required", [])
        return {name: example(sub) for name, sub in schema.get("properties", {}).items() if name in required}
    raise LookupError(f"no example for {schema}")


@pytest.fixture(scope="module")
def real_sink() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:  # the catalogue of the contract
        yield sink


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


def test_the_contract_names_the_documented_events() -> None:
    documented = {"answer", "disconnect", "gather", "initiate", "recordComplete", "transferComplete"}
    assert documented <= set(NAMES)
    assert "recordingComplete" not in NAMES  # the docs' name, not the old spec's


@pytest.mark.parametrize("name", NAMES)
def test_example_payload_is_accepted_over_http(real_sink: WebhookSink, http: httpx.Client, name: str) -> None:
    scope = real_sink.scope(name)
    data = example(CATALOGUE[name].schema)
    response = http.post(scope.url(name), json=data)
    (webhook,) = scope.requests
    assert webhook.problems == ()
    expected = default_reply(CATALOGUE[name])
    assert (response.status_code, response.content) == (expected.status, expected.body)
    scope.check()


@pytest.mark.parametrize("name", NAMES)
def test_each_required_field_is_checked(name: str) -> None:
    checker = PayloadChecker(CATALOGUE)
    data = example(CATALOGUE[name].schema)
    for field in CATALOGUE[name].required:
        if field == "eventType":
            continue
        broken = {key: value for key, value in data.items() if key != field}
        assert [(p.reason, p.field) for p in checker.problems(broken)] == [("missing-field", field)]


@pytest.mark.parametrize("name", NAMES)
def test_payload_under_another_event_type_is_a_problem(name: str) -> None:
    checker = PayloadChecker(CATALOGUE)
    data = {**example(CATALOGUE[name].schema), "eventType": "notAnEvent"}
    assert [p.reason for p in checker.problems(data)] == ["unknown-event-type"]


# Events whose example payload is flat: nested objects have no documented query encoding.
FLAT = [
    n for n in NAMES if not any(isinstance(v, dict | list) for v in example(CATALOGUE[n].schema).values())
]


def test_most_events_are_flat() -> None:
    assert len(FLAT) >= len(NAMES) // 2


@pytest.mark.parametrize("name", FLAT)
def test_get_callbacks_are_typed_back(real_sink: WebhookSink, http: httpx.Client, name: str) -> None:
    data = example(CATALOGUE[name].schema)
    scope = real_sink.scope(name)
    query = {
        key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in data.items()
    }
    http.get(scope.url(name), params=query)
    (webhook,) = scope.requests
    assert webhook.payload == data
    assert webhook.problems == ()


@pytest.mark.parametrize("name", NAMES)
def test_default_reply_is_valid_for_the_event(name: str) -> None:
    event = CATALOGUE[name]
    reply = default_reply(event)
    if event.bxml_context is None or event.empty_reply_allowed:
        assert (reply.status, reply.body) == (204, b"")
    else:
        assert reply.body == DEFAULT_BXML
        assert is_valid(reply.body, event.bxml_context)
