"""Webhooks: the event catalogue (from ``openapi/`` webhooks), the sink and sequence expectations."""

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
from conformance.webhooks.sink import SinkScope, WebhookProblems, WebhookSink, WebhookTimeout

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
