"""The public surface of ``conformance.webhooks`` is deliberate: this test guards it."""

from __future__ import annotations

import conformance.webhooks as webhooks

EXPECTED = {
    "ExpectationError",
    "Fault",
    "Flow",
    "FlowMismatch",
    "Mismatch",
    "Outcome",
    "PayloadProblem",
    "RecordFormatError",
    "Reply",
    "ScriptError",
    "SinkScope",
    "Webhook",
    "WebhookProblems",
    "WebhookSink",
    "WebhookTimeout",
    "any_order",
    "carries_tag",
    "count",
    "either_order",
    "equals",
    "events",
    "matches",
    "non_decreasing",
    "optional",
    "read_log",
    "same",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(webhooks.__all__) == EXPECTED
    assert sorted(webhooks.__all__) == webhooks.__all__


def test_every_exported_name_exists_and_lives_in_the_package() -> None:
    for name in webhooks.__all__:
        member = getattr(webhooks, name)
        module = getattr(member, "__module__", None) or member.__name__
        assert module.startswith("conformance.webhooks"), (name, module)


def test_errors_share_the_root_and_a_reason() -> None:
    from conformance.errors import ConformanceError

    for name in ("ExpectationError", "FlowMismatch", "RecordFormatError", "ScriptError"):
        error = getattr(webhooks, name)
        assert issubclass(error, ConformanceError)
        assert error.reason != ConformanceError.reason
    assert issubclass(webhooks.WebhookTimeout, TimeoutError)
    assert issubclass(webhooks.WebhookProblems, AssertionError)
