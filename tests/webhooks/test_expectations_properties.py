"""Properties of flow matching, checked against a direct oracle of the partial order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.webhooks import Flow, any_order

from .conftest import payload

# a first; then [b -> c] and d in any order; then e last
FLOW = Flow(["a", any_order(["b", "c"], "d"), "e"])
EVENTS = ["a", "b", "c", "d", "e"]


def follows_the_order(order: list[str]) -> bool:
    position = {event: i for i, event in enumerate(order)}
    return position["a"] == 0 and position["e"] == len(order) - 1 and position["b"] < position["c"]


@settings(max_examples=60, deadline=None)
@given(st.permutations(EVENTS))
def test_exactly_the_linear_extensions_match(order: list[str]) -> None:
    received = [payload(event, second=i) for i, event in enumerate(order)]
    mismatches = FLOW.difference(received)
    assert (mismatches == []) == follows_the_order(order)
    assert all(m.kind == "order" for m in mismatches)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(EVENTS), st.permutations(EVENTS))
def test_a_dropped_webhook_is_reported_missing(dropped: str, order: list[str]) -> None:
    kept = [event for event in order if event != dropped]
    received = [payload(event, second=i) for i, event in enumerate(kept)]
    missing = [m for m in FLOW.difference(received) if m.kind == "missing"]
    assert [(m.subject, m.actual, m.expected) for m in missing] == [(dropped, 0, 1)]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(EVENTS), st.integers(min_value=0, max_value=5))
def test_a_duplicated_webhook_is_reported_extra(duplicated: str, where: int) -> None:
    order = ["a", "b", "d", "c", "e"]
    order.insert(min(where, len(order)), duplicated)
    received = [payload(event, second=i) for i, event in enumerate(order)]
    kinds = {m.kind for m in FLOW.difference(received)}
    assert "extra" in kinds
    assert "missing" not in kinds
