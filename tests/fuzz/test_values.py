"""The realistic generators produce the documented shapes."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from conformance.fuzz import fields, values
from conformance.fuzz.schema import SchemaStrategies, UnsupportedSchemaError

FEW = settings(max_examples=40, deadline=None, database=None)


@FEW
@given(values.e164_numbers())
def test_e164_numbers(number: str) -> None:
    assert re.fullmatch(r"\+[1-9][0-9]{6,14}", number)


def test_numbers_come_from_many_countries() -> None:
    codes: set[str] = set()

    @settings(max_examples=150, deadline=None, database=None)
    @given(values.e164_numbers())
    def collect(number: str) -> None:
        codes.add(number[1:3])

    collect()
    assert len(codes) >= 8
    assert any(not code.startswith("1") for code in codes)


@FEW
@given(
    values.call_ids(), values.conference_ids(), values.recording_ids(), values.account_ids(), values.uuids()
)
def test_ids_have_the_documented_shapes(call: str, conf: str, rec: str, account: str, app: str) -> None:
    assert call.startswith("c-")
    assert len(call) == 47
    assert conf.startswith("conf-")
    assert len(conf) == 50
    assert rec.startswith("r-")
    assert len(rec) == 47
    assert account.isdigit()
    assert len(account) in (7, 8)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", app)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        ("0.2", "PT0.2S"),
        ("13.67", "PT13.67S"),
        ("3723.5", "PT1H2M3.5S"),
        ("3600", "PT1H"),
        ("0", "PT0S"),
        ("60", "PT1M"),
    ],
)
def test_iso_durations(seconds: str, text: str) -> None:
    assert values.iso_duration(Decimal(seconds)) == text


def test_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        values.iso_duration(Decimal("-1"))


def test_durations_span_under_a_second_to_hours() -> None:
    spans: list[Decimal] = []

    @settings(max_examples=80, deadline=None, database=None)
    @given(values.duration_seconds())
    def collect(seconds: Decimal) -> None:
        spans.append(seconds)

    collect()
    assert min(spans) < 1
    assert max(spans) >= 3600


def test_tags_reach_the_edges() -> None:
    tags: list[str] = []

    @settings(max_examples=120, deadline=None, database=None)
    @given(values.tags())
    def collect(tag: str) -> None:
        tags.append(tag)

    collect()
    assert any(len(t) == 256 for t in tags)
    assert any("<" in t or "&" in t for t in tags)
    assert any(not t.isascii() for t in tags)
    assert all(len(t) <= 256 for t in tags)


@FEW
@given(values.gather_digits(), values.terminating_digits())
def test_digits(digits: str, terminator: str) -> None:
    assert re.fullmatch(r"[0-9*#]{0,50}", digits)
    assert terminator in {"", *values.DTMF_DIGITS}


def _draws(strategy: st.SearchStrategy[Any], n: int = 40) -> list[Any]:
    out: list[Any] = []

    @settings(max_examples=n, deadline=None, database=None)
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


def test_the_schema_beats_the_realistic_guess() -> None:
    builder = SchemaStrategies()
    only_us = {"type": "string", "pattern": r"^\+1[0-9]{10}$"}
    assert all(v.startswith("+1") for v in _draws(builder.build(only_us, "from")))


def test_any_of_branches_keep_the_shared_required_fields() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "string"}},
        "anyOf": [{"required": ["b"]}, {"required": ["c"]}],
    }
    for value in _draws(SchemaStrategies().build(schema)):
        assert "a" in value
        assert "b" in value or "c" in value


def test_nullable_const_enum_and_arrays() -> None:
    builder = SchemaStrategies()
    assert None in _draws(builder.build({"type": ["string", "null"]}), 60)
    assert set(_draws(builder.build({"const": "x"}), 5)) == {"x"}
    assert set(_draws(builder.build({"enum": [1, 2]}), 30)) == {1, 2}
    for value in _draws(builder.build({"type": "array", "items": {"enum": ["in", "out"]}, "maxItems": 2})):
        assert len(value) <= 2
        assert set(value) <= {"in", "out"}


def test_a_schema_that_allows_nothing_is_refused() -> None:
    with pytest.raises(UnsupportedSchemaError):
        SchemaStrategies().build(False)
    with pytest.raises(UnsupportedSchemaError, match="required"):
        SchemaStrategies().build({"type": "object", "required": ["x"], "properties": {}})


def _by_name(table: dict[Any, Any]) -> list[Any]:
    return sorted(table, key=lambda factory: factory.__name__)


@pytest.mark.parametrize("factory", _by_name(fields.FORMATS), ids=lambda f: f.__name__)
def test_generators_satisfy_the_formats_they_claim(factory: Any) -> None:
    checker = Draft202012Validator.FORMAT_CHECKER
    for value in _draws(factory(), 30):
        for fmt in fields.FORMATS[factory]:
            assert checker.conforms(value, fmt), (fmt, value)
            if fmt in {"uri", "url"}:  # jsonschema checks URIs only with an optional package
                assert re.fullmatch(r"[a-z][a-z0-9+.-]*://[^\s/?#]+[^\s]*", value), value


@pytest.mark.parametrize("factory", _by_name(fields.EXACT), ids=lambda f: f.__name__)
def test_exact_tables_list_every_value_of_their_generator(factory: Any) -> None:
    seen = set(_draws(factory(), 80))
    assert seen <= set(fields.EXACT[factory])
    assert len(seen) >= min(2, len(fields.EXACT[factory]))


@pytest.mark.parametrize("factory", _by_name(fields.KINDS), ids=lambda f: f.__name__)
def test_generators_produce_their_declared_json_type(factory: Any) -> None:
    kind = {"string": str, "integer": int, "object": dict}[fields.KINDS[factory]]
    assert all(type(value) is kind for value in _draws(factory(), 15))


def test_a_leaf_narrower_than_a_listed_generator_gets_only_what_it_accepts() -> None:
    builder = SchemaStrategies()
    assert set(_draws(builder.build({"type": "integer", "minimum": 2, "maximum": 2}, "channels"), 20)) == {2}
    causes = _draws(builder.build({"type": "string", "maxLength": 4}, "cause"), 40)
    assert all(isinstance(c, str) and len(c) <= 4 for c in causes)
    assert "busy" in causes  # the one listed cause short enough


def test_a_guess_of_another_type_gives_way_to_the_schema() -> None:
    drawn = _draws(SchemaStrategies().build({"type": "integer", "maximum": 10}, "callId"), 20)
    assert all(isinstance(v, int) and v <= 10 for v in drawn)


def test_any_of_branches_that_add_more_than_requirements_are_still_checked() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "string"}},
        "anyOf": [{"required": ["b"]}, {"required": ["c"], "maxProperties": 1}],
    }
    validator = Draft202012Validator(schema)
    for value in _draws(SchemaStrategies().build(schema), 60):
        assert validator.is_valid(value), value


def test_listed_values_stay_optional_and_nullable() -> None:
    schema = {
        "type": "object",
        "properties": {
            "direction": {"enum": ["inbound", "outbound"]},
            "flag": {"type": ["boolean", "null"]},
            "cause": {"type": "string"},
        },
    }
    drawn = _draws(SchemaStrategies().build(schema), 80)
    assert {d.get("direction", "absent") for d in drawn} == {"inbound", "outbound", "absent"}
    assert {d.get("flag", "absent") for d in drawn} == {True, False, None, "absent"}
    assert {d["cause"] for d in drawn if "cause" in d} <= set(values.DISCONNECT_CAUSES)
    assert len({d["cause"] for d in drawn if "cause" in d}) > 2
