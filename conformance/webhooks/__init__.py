"""Webhooks: the event catalogue (from ``openapi/`` webhooks), the sink and sequence expectations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.webhooks import events
from conformance.webhooks.expectations import (
    Flow,
    FlowMismatch,
    any_order,
    count,
    either_order,
    optional,
)
from conformance.webhooks.records import Outcome, PayloadProblem, RecordFormatError, Webhook, read_log
from conformance.webhooks.rules import (
    ExpectationError,
    Mismatch,
    carries_tag,
    equals,
    matches,
    non_decreasing,
    same,
)
from conformance.webhooks.script import Fault, Reply, ScriptError

if TYPE_CHECKING:
    from conformance.webhooks.sink import SinkScope, WebhookProblems, WebhookSink, WebhookTimeout

# The sink pulls in pytest-httpserver (and werkzeug).  It is imported on first use only, so the
# simulator, which reads `events` from this package, never imports a pytest plugin module before
# pytest starts (pytest would warn that it cannot rewrite its assertions).
_LAZY = {"SinkScope", "WebhookProblems", "WebhookSink", "WebhookTimeout"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from conformance.webhooks import sink

        return getattr(sink, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
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
]
