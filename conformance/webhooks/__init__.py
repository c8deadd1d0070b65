"""Webhooks: the event catalogue (from ``openapi/`` webhooks), the sink and sequence expectations."""

from conformance.webhooks import events
from conformance.webhooks.records import Outcome, PayloadProblem, RecordFormatError, Webhook
from conformance.webhooks.script import Fault, Reply, ScriptError
from conformance.webhooks.sink import SinkScope, WebhookProblems, WebhookSink, WebhookTimeout

__all__ = [
    "Fault",
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
    "events",
]
