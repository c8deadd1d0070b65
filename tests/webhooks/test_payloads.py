"""Reading payloads out of requests and checking them against event schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.webhooks.payloads import PayloadChecker, is_date_time, read_payload, typed_query

from .conftest import SMALL_CATALOGUE, payload

CHECKER = PayloadChecker(SMALL_CATALOGUE)


def reasons(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.reason, p.field) for p in CHECKER.problems(data)]


def test_a_valid_payload_has_no_problems() -> None:
    assert CHECKER.problems(payload("gather", digits="12", terminatingDigit="#")) == []


def test_unknown_event_type_is_a_problem() -> None:
    problems = CHECKER.problems(payload("recordingComplete"))
    assert [(p.reason, p.field) for p in problems] == [("unknown-event-type", "eventType")]
    assert "recordComplete" in problems[0].message  # the message lists the known events


def test_non_string_event_type_is_unknown() -> None:
    assert reasons({**payload("answer"), "eventType": 7}) == [("unknown-event-type", "eventType")]


def test_missing_event_type() -> None:
    data = payload("answer")
    del data["eventType"]
    assert reasons(data) == [("missing-event-type", "eventType")]


def test_missing_required_fields_are_named_one_by_one() -> None:
    data = payload("answer")
    del data["callId"]
    del data["eventTime"]
    assert reasons(data) == [("missing-field", "callId"), ("missing-field", "eventTime")]


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-01-02 03:04:05Z", "2026-13-02T03:04:05Z", "2026-01-02T03:04"]
)
def test_bad_date_time_is_a_problem(value: str) -> None:
    assert reasons(payload("answer", eventTime=value)) == [("schema", "eventTime")]


@pytest.mark.parametrize(
    "value", ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123+02:00", "2026-01-02t03:04:05.1z"]
)
def test_rfc3339_date_times_pass(value: str) -> None:
    assert is_date_time(value)
    assert reasons(payload("answer", eventTime=value)) == []


def test_wrong_type_is_a_problem_with_its_path() -> None:
    assert reasons(payload("recordComplete", channels="two")) == [("schema", "channels")]


def test_post_body_must_be_a_json_object() -> None:
    query: dict[str, tuple[str, ...]] = {}
    data, problems = read_payload("POST", "application/json", b"[1, 2]", query, SMALL_CATALOGUE)
    assert data is None
    assert [p.reason for p in problems] == ["not-object"]
    data, problems = read_payload("POST", "application/json", b"{nope", query, SMALL_CATALOGUE)
    assert data is None
    assert [p.reason for p in problems] == ["not-json"]


def test_post_content_type_must_be_json() -> None:
    body = json.dumps(payload("answer")).encode()
    data, problems = read_payload("POST", "text/plain", body, {}, SMALL_CATALOGUE)
    assert data == payload("answer")
    assert [p.reason for p in problems] == ["content-type"]
    _, problems = read_payload("POST", "application/json; charset=utf-8", body, {}, SMALL_CATALOGUE)
    assert problems == []


def test_other_methods_are_a_problem() -> None:
    data, problems = read_payload("PUT", "application/json", b"{}", {}, SMALL_CATALOGUE)
    assert data is None
    assert [p.reason for p in problems] == ["method"]


def test_get_query_is_typed_by_the_schema_of_its_event() -> None:
    schema = {
        "type": "object",
        "allOf": [{"properties": {"n": {"type": ["integer", "null"]}}}],
        "properties": {
            "flag": {"type": "boolean"},
            "ratio": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            "name": {"type": "string"},
            "gone": {"type": "null"},
        },
    }
    query = {"n": ("1", "42"), "flag": ("false",), "ratio": ("1e-3",), "name": ("007",), "gone": ("",)}
    query["extra"] = ("x",)
    assert typed_query(query, schema) == {
        "n": 42,  # the last value wins
        "flag": False,
        "ratio": 0.001,
        "name": "007",  # strings stay strings
        "gone": None,
        "extra": "x",
    }
    assert typed_query({"flag": ("maybe",)}, schema) == {"flag": "maybe"}  # left for the schema to reject


def test_get_without_event_type_keeps_strings() -> None:
    data, problems = read_payload("GET", None, b"", {"channels": ("2",)}, SMALL_CATALOGUE)
    assert data == {"channels": "2"}
    assert problems == []
    assert reasons(data) == [("missing-event-type", "eventType")]
