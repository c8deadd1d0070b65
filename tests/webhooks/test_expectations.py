"""Flow expectations: partial orders, counts and field rules, as data and as readable diffs."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from conformance.webhooks import (
    ExpectationError,
    Flow,
    FlowMismatch,
    Mismatch,
    WebhookSink,
    any_order,
    carries_tag,
    count,
    either_order,
    equals,
    matches,
    non_decreasing,
    optional,
    same,
)

from .conftest import payload

CALL_FLOW = Flow(["answer", "gather", "disconnect"], rules=[same("callId"), non_decreasing("eventTime")])


def sequence(*events: str, **fields: Any) -> list[dict[str, Any]]:
    """Payloads one second apart, in the order given."""
    return [payload(event, second=i, **fields) for i, event in enumerate(events)]


def kinds(mismatches: list[Mismatch]) -> list[tuple[str, str, int | None]]:
    return [(m.kind, m.subject, m.position) for m in mismatches]


def test_in_order_matches() -> None:
    assert CALL_FLOW.difference(sequence("answer", "gather", "disconnect")) == []
    CALL_FLOW.check(sequence("answer", "gather", "disconnect"))


def test_out_of_order_is_named() -> None:
    got = sequence("answer", "disconnect", "gather")  # event times follow arrival
    assert kinds(CALL_FLOW.difference(got)) == [("order", "disconnect", 2)]
    (mismatch,) = CALL_FLOW.difference(got)
    assert mismatch.actual == "before gather #3"
    assert mismatch.expected == "after gather"


def test_missing_event() -> None:
    diff = CALL_FLOW.difference(sequence("answer", "gather"))
    assert diff == [Mismatch("missing", "disconnect", 0, 1)]


def test_extra_event_of_a_known_type() -> None:
    diff = CALL_FLOW.difference(sequence("answer", "gather", "gather", "disconnect"))
    assert diff == [Mismatch("extra", "gather", 2, 1, 3)]


def test_unexpected_event_type() -> None:
    got = sequence("answer", "dtmf", "gather", "disconnect")
    assert kinds(CALL_FLOW.difference(got)) == [("unexpected", "dtmf", 2)]
    relaxed = Flow(["answer", "gather", "disconnect"], exhaustive=False)
    assert relaxed.difference(got) == []
    ignoring = Flow(["answer", "gather", "disconnect"], ignore=["dtmf"])
    assert ignoring.difference(got) == []


def test_call_id_mismatch() -> None:
    got = sequence("answer", "gather", "disconnect")
    got[1]["callId"] = "c-other"
    assert CALL_FLOW.difference(got) == [Mismatch("field", "gather.callId", "c-other", "c-1", 2)]


def test_event_time_going_backwards() -> None:
    got = sequence("answer", "gather", "disconnect")
    got[2]["eventTime"] = "2026-01-02T03:03:59.000Z"
    (mismatch,) = CALL_FLOW.difference(got)
    assert kinds([mismatch]) == [("field", "disconnect.eventTime", 3)]
    assert mismatch.expected == ">= 2026-01-02T03:04:01.000Z"


def test_equal_event_times_are_fine_and_offsets_are_compared_as_instants() -> None:
    got = sequence("answer", "gather", "disconnect")
    got[1]["eventTime"] = got[0]["eventTime"]
    got[2]["eventTime"] = "2026-01-02T05:04:05+02:00"  # 03:04:05Z, after 03:04:00Z
    assert CALL_FLOW.difference(got) == []


def test_unreadable_event_time() -> None:
    got = sequence("answer", "gather", "disconnect")
    got[1]["eventTime"] = "soon"
    assert kinds(CALL_FLOW.difference(got)) == [("field", "gather.eventTime", 2)]


def test_tag_carried_until_changed() -> None:
    flow = Flow(
        ["answer", "gather", "redirect", "disconnect"],
        rules=[carries_tag("first", stop="redirect"), carries_tag("second", start="redirect")],
        exhaustive=False,
    )
    got = sequence("answer", "gather", "redirect", "disconnect", tag="first")
    got[2]["tag"] = got[3]["tag"] = "second"
    assert flow.difference(got) == []
    got[1].pop("tag")  # lost on the way
    assert kinds(flow.difference(got)) == [("field", "gather.tag", 2)]
    (lost,) = flow.difference(got)
    assert lost.expected == "first"
    assert repr(lost.actual) == "<missing>"


def test_no_tag_means_absent_or_null() -> None:
    flow = Flow(["answer", "disconnect"], rules=[carries_tag(None)])
    got = sequence("answer", "disconnect")
    got[1]["tag"] = None
    assert flow.difference(got) == []
    got[0]["tag"] = "surprise"
    assert kinds(flow.difference(got)) == [("field", "answer.tag", 1)]


def test_either_order_accepts_both_orders() -> None:
    flow = Flow(["answer", either_order("transferDisconnect", "transferComplete"), "disconnect"])
    assert flow.difference(sequence("answer", "transferDisconnect", "transferComplete", "disconnect")) == []
    assert flow.difference(sequence("answer", "transferComplete", "transferDisconnect", "disconnect")) == []
    early = sequence("transferComplete", "answer", "transferDisconnect", "disconnect")
    assert kinds(flow.difference(early)) == [("order", "transferComplete", 1)]


def test_any_order_branches_keep_their_own_order() -> None:
    flow = Flow(
        ["recordComplete", any_order(["recordingAvailable", "transcriptionAvailable"], "disconnect")],
    )
    assert (
        flow.difference(
            sequence("recordComplete", "disconnect", "recordingAvailable", "transcriptionAvailable")
        )
        == []
    )
    assert (
        flow.difference(
            sequence("recordComplete", "recordingAvailable", "disconnect", "transcriptionAvailable")
        )
        == []
    )
    swapped = sequence("recordComplete", "transcriptionAvailable", "disconnect", "recordingAvailable")
    assert kinds(flow.difference(swapped)) == [("order", "transcriptionAvailable", 2)]


def test_optional_and_count() -> None:
    flow = Flow(["answer", optional("machineDetectionComplete"), count("dtmf", at_least=1), "disconnect"])
    assert flow.difference(sequence("answer", "dtmf", "disconnect")) == []
    assert (
        flow.difference(sequence("answer", "machineDetectionComplete", "dtmf", "dtmf", "dtmf", "disconnect"))
        == []
    )
    assert kinds(flow.difference(sequence("answer", "disconnect"))) == [("missing", "dtmf", None)]
    exactly = Flow(["answer", count("dtmf", 2), "disconnect"])
    assert kinds(exactly.difference(sequence("answer", "dtmf", "dtmf", "dtmf", "disconnect"))) == [
        ("extra", "dtmf", 4)
    ]


def test_repeated_event_types_fill_the_right_slots() -> None:
    flow = Flow(
        ["answer", count("dtmf", at_least=1), "gather", count("dtmf", at_least=0), "gather", "disconnect"]
    )
    got = sequence("answer", "dtmf", "dtmf", "gather", "dtmf", "gather", "disconnect")
    assert flow.difference(got) == []
    assert kinds(flow.difference(sequence("answer", "gather", "gather", "disconnect"))) == [
        ("missing", "dtmf", None)
    ]


def test_rules_can_be_limited_to_some_events() -> None:
    flow = Flow(
        ["answer", "transferAnswer", "disconnect"],
        rules=[
            same("callId", events=["answer", "disconnect"]),
            equals("to", "+15555550101", events=["answer"]),
            matches("callId", r"c-\d+"),
        ],
    )
    got = sequence("answer", "transferAnswer", "disconnect")
    got[1]["callId"] = "c-2"  # the B-leg
    assert flow.difference(got) == []
    got[0]["to"] = "+1999"
    got[2]["callId"] = "x"
    assert kinds(flow.difference(got)) == [
        ("field", "answer.to", 1),
        ("field", "disconnect.callId", 3),
        ("field", "disconnect.callId", 3),
    ]


def test_nested_fields_and_missing_fields() -> None:
    flow = Flow(["answer"], rules=[equals("machineDetectionResult.value", "human")])
    assert flow.difference([payload("answer", machineDetectionResult={"value": "human"})]) == []
    (mismatch,) = flow.difference([payload("answer")])
    assert mismatch.subject == "answer.machineDetectionResult.value"
    assert repr(mismatch.actual) == "<missing>"


def test_flow_for_one_call_ignores_the_others() -> None:
    flow = Flow(["answer", "disconnect"], call_id="c-1")
    got = [payload("answer"), payload("answer", "c-2"), payload("disconnect", second=2)]
    assert flow.difference(got) == []


def test_check_raises_a_readable_diff() -> None:
    got = sequence("answer", "dtmf", "gather")
    got[2]["eventTime"] = "2026-01-02T03:03:00.000Z"
    flow = Flow(["answer", "gather", "disconnect"], rules=[non_decreasing()], name="gather then hang up")
    with pytest.raises(FlowMismatch) as info:
        flow.check(got)
    text = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert info.value.reason == "flow-mismatch"
    assert [m.kind for m in info.value.mismatches] == ["unexpected", "field", "missing"]
    assert (
        text.splitlines()[0] == "flow 'gather then hang up' does not match what was received (3 mismatch(es))"
    )
    assert "expected: answer -> gather -> disconnect" in text
    assert "rules:    non_decreasing(eventTime)" in text
    assert "#2   2026-01-02T03:04:01.000Z" in text  # times
    assert "callId=c-1" in text  # call ids
    assert "  ! #2" in text  # marked lines
    assert "unexpected: dtmf (#2) is not in the flow" in text
    assert "missing: disconnect: received 0, expected 1" in text


def test_describe_shows_the_structure() -> None:
    flow = Flow(
        [
            "answer",
            optional("machineDetectionComplete"),
            count("dtmf", at_least=2),
            either_order(["transferAnswer", "transferDisconnect"], "transferComplete"),
        ]
    )
    assert flow.describe() == (
        "answer -> optional(machineDetectionComplete) -> dtmf{2..*} -> "
        "any_order([transferAnswer -> transferDisconnect], transferComplete)"
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Flow([]), "non-empty list"),
        (lambda: Flow("answer"), "non-empty list"),
        (lambda: Flow([42]), "a flow step is"),  # type: ignore[list-item]
        (lambda: Flow(["answer"], rules=["same"]), "not a field rule"),  # type: ignore[list-item]
        (lambda: Flow(["answer"], ignore=["answer"]), "both expected and ignored"),
        (lambda: count("dtmf", at_least=3, at_most=2), "bad count"),
        (lambda: any_order("answer"), "at least two"),
        (lambda: any_order("answer", []), "branch is empty"),
        (lambda: matches("callId", "("), "bad regular expression"),
        (lambda: optional(""), "non-empty string"),
    ],
)
def test_bad_expectations_are_named_errors(build: Any, message: str) -> None:
    with pytest.raises(ExpectationError, match=message) as info:
        build()
    assert isinstance(info.value, ValueError)
    assert info.value.reason == "bad-expectation"


def test_scope_expect_waits_for_the_flow(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    flow = Flow(["answer", "disconnect"], rules=[same("callId")])

    def target() -> None:
        for event in ("answer", "disconnect"):
            client.post(scope.url(event), json=payload(event))

    worker = threading.Thread(target=target)
    worker.start()
    received = scope.expect(flow, timeout=10)
    worker.join()
    assert [w.event_type for w in received] == ["answer", "disconnect"]
    assert flow.difference(received) == []  # sink records work as input too


def test_scope_expect_fails_with_the_diff(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    client.post(scope.url("answer"), json=payload("answer"))
    with pytest.raises(FlowMismatch, match="missing: disconnect"):
        scope.expect(Flow(["answer", "disconnect"]), timeout=0.05)
