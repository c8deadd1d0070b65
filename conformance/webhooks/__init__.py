"""Webhooks: the event catalogue (from ``openapi/`` webhooks), the sink and sequence expectations."""
