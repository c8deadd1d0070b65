"""What the sink keeps about each request: the webhook record, its problems and the reply it got.

Records are immutable values. :meth:`Webhook.to_json` gives the JSON object written as one line of
the sink's JSONL log; :meth:`Webhook.from_json` reads such a line back, so a log can be checked with
the same expectations after the run.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from conformance.errors import ConformanceError

ReplySource = Literal["scripted", "default", "fault", "error", "unscoped"]


class RecordFormatError(ConformanceError, ValueError):
    """A JSONL log line does not describe a recorded webhook."""

    reason = "bad-record"


@dataclass(frozen=True)
class PayloadProblem:
    """One thing wrong with a received webhook (``field`` is a dotted path, ``""`` for the whole)."""

    reason: str  # machine-readable: not-json, schema, unknown-event-type, ...
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class Outcome:
    """What the sink did with a request: the reply it sent, or the fault it played."""

    status: int | None  # None when the connection was dropped
    body: bytes = b""
    content_type: str | None = None
    delay: float = 0.0
    dropped: bool = False
    source: ReplySource = "default"


@dataclass(frozen=True)
class Webhook:
    """One request received by the sink, with its parsed payload and the problems found in it."""

    seq: int  # order of arrival over the whole sink, from 1
    scope: str | None  # key of the scope the path belongs to; None for a stray request
    method: str
    path: str
    event_path: str  # the part of the path after the scope prefix
    query: Mapping[str, tuple[str, ...]]
    headers: Mapping[str, str]
    auth: tuple[str, str] | None  # Basic-auth (user, password), decoded
    body: bytes
    payload: Mapping[str, Any] | None  # JSON body of a POST, typed query of a GET
    received_at: datetime
    problems: tuple[PayloadProblem, ...] = ()
    outcome: Outcome = field(default_factory=lambda: Outcome(status=None))

    @property
    def event_type(self) -> str | None:
        value = self.payload.get("eventType") if self.payload is not None else None
        return value if isinstance(value, str) else None

    @property
    def call_id(self) -> str | None:
        value = self.payload.get("callId") if self.payload is not None else None
        return value if isinstance(value, str) else None

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """One line: arrival, method and path, event, call id."""
        event = self.event_type or "<no eventType>"
        call = f" callId={self.call_id}" if self.call_id else ""
        stamp = self.received_at.strftime("%H:%M:%S.%f")[:-3]
        return f"#{self.seq} {stamp} {self.method} {self.path} {event}{call}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready object (body as text when it is UTF-8, else as base64)."""
        try:
            body: dict[str, str] = {"body": self.body.decode("utf-8")}
        except UnicodeDecodeError:
            body = {"body_base64": base64.b64encode(self.body).decode("ascii")}
        outcome = self.outcome
        try:
            reply_body = outcome.body.decode("utf-8")
        except UnicodeDecodeError:
            reply_body = base64.b64encode(outcome.body).decode("ascii")
        return {
            "seq": self.seq,
            "scope": self.scope,
            "received_at": self.received_at.isoformat(),
            "method": self.method,
            "path": self.path,
            "event_path": self.event_path,
            "query": {key: list(values) for key, values in self.query.items()},
            "headers": dict(self.headers),
            "auth": list(self.auth) if self.auth is not None else None,
            **body,
            "payload": dict(self.payload) if self.payload is not None else None,
            "event_type": self.event_type,
            "call_id": self.call_id,
            "problems": [{"reason": p.reason, "field": p.field, "message": p.message} for p in self.problems],
            "reply": {
                "status": outcome.status,
                "content_type": outcome.content_type,
                "body": reply_body,
                "delay": outcome.delay,
                "dropped": outcome.dropped,
                "source": outcome.source,
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Webhook:
        """Read back an object written by :meth:`to_json` (the reply body is kept as UTF-8 text)."""
        try:
            if "body_base64" in data:
                body = base64.b64decode(data["body_base64"], validate=True)
            else:
                body = str(data["body"]).encode("utf-8")
            auth = data.get("auth")
            reply = data.get("reply") or {}
            return cls(
                seq=int(data["seq"]),
                scope=data.get("scope"),
                method=str(data["method"]),
                path=str(data["path"]),
                event_path=str(data.get("event_path", "")),
                query={str(k): tuple(str(v) for v in vs) for k, vs in dict(data.get("query", {})).items()},
                headers={str(k): str(v) for k, v in dict(data.get("headers", {})).items()},
                auth=(str(auth[0]), str(auth[1])) if auth else None,
                body=body,
                payload=data.get("payload"),
                received_at=datetime.fromisoformat(str(data["received_at"])),
                problems=tuple(
                    PayloadProblem(str(p["reason"]), str(p["field"]), str(p["message"]))
                    for p in data.get("problems", [])
                ),
                outcome=Outcome(
                    status=reply.get("status"),
                    body=str(reply.get("body") or "").encode("utf-8"),
                    content_type=reply.get("content_type"),
                    delay=float(reply.get("delay") or 0.0),
                    dropped=bool(reply.get("dropped", False)),
                    source=reply.get("source", "default"),
                ),
            )
        except (KeyError, TypeError, ValueError, IndexError, binascii.Error) as exc:
            raise RecordFormatError(f"not a webhook record: {exc}") from exc


def read_log(path: str | os.PathLike[str]) -> list[Webhook]:
    """The webhooks of a sink's JSONL log, in the order written."""
    webhooks: list[Webhook] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith("\n"):
                raise RecordFormatError(f"{os.fspath(path)}:{number}: the last line is incomplete")
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RecordFormatError(f"{os.fspath(path)}:{number}: not JSON: {exc}") from exc
            if not isinstance(data, dict):
                raise RecordFormatError(f"{os.fspath(path)}:{number}: not a JSON object")
            try:
                webhooks.append(Webhook.from_json(data))
            except RecordFormatError as exc:
                raise RecordFormatError(f"{os.fspath(path)}:{number}: {exc}") from exc
    return webhooks


__all__ = ["Outcome", "PayloadProblem", "RecordFormatError", "ReplySource", "Webhook", "read_log"]
