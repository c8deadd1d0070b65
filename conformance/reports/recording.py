"""Recording what a run exchanged, for the report files (ndjson, HAR, HTML) and ``replay``.

While the suites run (in the pytest process, or in each xdist worker), a :class:`Recorder` appends
one JSON object per line to a spool file of its own in the run's spool directory
(``--bw-record DIR``): every HTTP exchange the tests' thread makes with ``httpx`` or ``requests``
(REST requests to the target, control calls), every webhook the sink received with the reply it
gave, and what a flow test expected (see :func:`note_flow`).  Every record names the test it
belongs to.  The parent process reads the spool files back with :func:`read_spool` once pytest has
ended, however it ended: lines are written whole and flushed one by one, and an incomplete last line
(a worker killed mid-write) is skipped.

``Authorization`` values are masked as they are recorded; the report writers pass everything through
the run's :class:`~conformance.redaction.Redactor` as well.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from conformance.redaction import MASK

__all__ = [
    "BODY_LIMIT",
    "Recorder",
    "active",
    "bxml_verbs",
    "flow_order",
    "mask_secrets",
    "note_flow",
    "read_spool",
    "webhook_record",
]

#: Bodies longer than this are cut in the records (the report says so).
BODY_LIMIT = 64 * 1024
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

_ACTIVE: Recorder | None = None


def active() -> Recorder | None:
    """The recorder of this process, when the run records."""
    return _ACTIVE


def _now() -> tuple[float, str]:
    stamp = time.time()
    return stamp, datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def _headers(items: Sequence[tuple[str, str]] | Any) -> list[list[str]]:
    pairs = items.items() if hasattr(items, "items") else items
    return [[str(k), MASK if str(k).lower() in _SECRET_HEADERS else str(v)] for k, v in pairs]


# Secret values in bodies (token answers, control-API account lists, form posts) and bearer tokens.
_SECRET_FIELD = re.compile(
    r"""(?i)((?:password|client_?secret|access_token|refresh_token|id_token|secret)["']?\s*[:=]\s*)"""
    r"""("[^"]*"|'[^']*'|[^&\s,}]+)"""
)
_SECRET_WORDS = ("password", "secret", "token")  # cheap test before the pattern (which scans slowly)
_BINARY = re.compile("[\x00-\x08\x0e-\x1f]")  # control characters: not a text body
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def mask_secrets(text: str) -> str:
    """``text`` with the values of secret-named fields and any JWT replaced by ``*****``.

    A JSON body is parsed and walked (exact, and fast on a long list of calls that each carry
    ``"password": null``); other text goes through a pattern for ``key: value`` and ``key=value``."""
    lowered = text.lower()
    if any(word in lowered for word in _SECRET_WORDS):
        text = _mask_json(text) if text.lstrip()[:1] in ("{", "[") else _SECRET_FIELD.sub(_masked, text)
    return _JWT.sub(MASK, text) if "eyJ" in text else text


def _secret_key(key: str) -> bool:
    key = key.lower()
    return "password" in key or "secret" in key or key.endswith("token")


def _mask_value(value: Any) -> bool:
    """Mask secret-named members of ``value`` in place; whether anything changed."""
    changed = False
    if isinstance(value, dict):
        for key, item in value.items():
            if _secret_key(str(key)) and item is not None and item != MASK:
                value[key] = MASK
                changed = True
            else:
                changed = _mask_value(item) or changed
    elif isinstance(value, list):
        for item in value:
            changed = _mask_value(item) or changed
    return changed


# A secret-named JSON member whose value is not null (case variants of the usual spellings only).
_SET_SECRET = re.compile(r"""(?:assword|ecret|oken|ASSWORD|ECRET|OKEN)["']?\s*:\s*[^\sn]""")


def _mask_json(text: str) -> str:
    if _SET_SECRET.search(text) is None:
        return text  # nothing to mask: no need to parse (call lists carry many "password": null)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return _SECRET_FIELD.sub(_masked, text)
    if not _mask_value(data):
        return text
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _masked(match: re.Match[str]) -> str:
    key, value = match.group(1), match.group(2)
    if key.rstrip().endswith(":"):  # JSON (or a repr): keep it valid, and keep a null a null
        return key + (value if value == "null" else f'"{MASK}"')
    return key + MASK


def _text(body: bytes | str | None) -> dict[str, Any]:
    if body is None:
        return {"body": ""}
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    cut = len(raw) > BODY_LIMIT
    extra = {"size": len(raw), **({"truncated": True} if cut else {})}
    try:
        text = raw[:BODY_LIMIT].decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (cut and exc.start >= BODY_LIMIT - 3):  # not just a character cut at the limit
            return {"body": base64.b64encode(raw[:BODY_LIMIT]).decode("ascii"), "encoding": "base64", **extra}
        text = raw[: exc.start].decode("utf-8")
    if _BINARY.search(text):
        return {"body": base64.b64encode(raw[:BODY_LIMIT]).decode("ascii"), "encoding": "base64", **extra}
    return {"body": mask_secrets(text), **extra}


def bxml_verbs(body: str) -> list[str]:
    """The top-level verbs of a BXML reply (``<Response><SpeakSentence/><Gather>`` -> names), or []
    when the body is not BXML.  Parsed with the project's safe parser (no DTD, bounded)."""
    if "<Response" not in body and "<Bxml" not in body:
        return []
    from conformance.bxml.parsing import parse

    try:
        root = parse(body)
    except Exception:  # a malformed reply is drawn as text, never an error of the report
        return []
    return [str(child.tag).rsplit("}", 1)[-1] for child in root if isinstance(child.tag, str)]


class Recorder:
    """Appends the records of one process to ``<spool>/<tag>.ndjson``."""

    def __init__(self, spool: str | os.PathLike[str], tag: str) -> None:
        self.tag = tag
        self.path = Path(spool) / f"{tag}-{os.getpid()}.ndjson"
        self._lock = threading.Lock()
        self._handle: TextIO | None = None
        self._count = 0
        self.test: str | None = None  # the test running on the main thread
        self._undo: list[Callable[[], None]] = []

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        global _ACTIVE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by stop()
        self._patch_httpx()
        self._patch_requests()
        _ACTIVE = self

    def stop(self) -> None:
        global _ACTIVE
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
        if _ACTIVE is self:
            _ACTIVE = None

    def next_id(self, kind: str) -> str:
        with self._lock:
            self._count += 1
            return f"{self.tag}.{kind}{self._count}"

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            if self._handle is not None:
                self._handle.write(line)
                self._handle.flush()

    # -- HTTP clients ----------------------------------------------------------------------------
    def _on_tests_thread(self) -> bool:
        # The suites send from the test thread; an embedded simulator in this process sends its
        # webhooks from threads of its own, and the sink records those as they arrive.
        return threading.current_thread() is threading.main_thread()

    def rest(
        self,
        request: tuple[str, str, Any, bytes | str | None],
        response: tuple[int, Any, bytes | str | None] | None,
        started: tuple[float, str],
        error: BaseException | None = None,
    ) -> None:
        """Record one REST exchange: ``request`` is (method, url, headers, body), ``response``
        (status, headers, body) or None when ``error`` stopped it."""
        method, url, request_headers, request_body = request
        status, response_headers, response_body = response or (None, [], None)
        elapsed = (time.time() - started[0]) * 1000
        self.write(
            {
                "kind": "exchange",
                "type": "rest",
                "id": self.next_id("r"),
                "test": self.test,
                "time": started[0],
                "started": started[1],
                "duration_ms": round(elapsed, 1),
                "request": {"method": method, "url": url, "headers": _headers(request_headers)}
                | _text(request_body),
                "response": {"status": status, "headers": _headers(response_headers)}
                | _text(response_body)
                | ({"error": f"{type(error).__name__}: {error}"} if error is not None else {}),
            }
        )

    def _patch_httpx(self) -> None:
        import httpx

        original = httpx.Client.send
        recorder = self

        def described(request: httpx.Request) -> tuple[str, str, Any, bytes]:
            return request.method, str(request.url), request.headers.multi_items(), _httpx_body(request)

        def send(client: httpx.Client, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
            if not recorder._on_tests_thread():
                return original(client, request, *args, **kwargs)
            started = _now()
            try:
                response = original(client, request, *args, **kwargs)
            except httpx.HTTPError as exc:
                recorder.rest(described(request), None, started, exc)
                raise
            if not kwargs.get("stream"):
                answer = (response.status_code, response.headers.multi_items(), response.content)
                recorder.rest(described(response.request), answer, started)
            return response

        httpx.Client.send = send  # type: ignore[method-assign,assignment]
        self._undo.append(lambda: setattr(httpx.Client, "send", original))

    def _patch_requests(self) -> None:
        try:
            import requests
        except ImportError:  # pragma: no cover - schemathesis brings it
            return
        original = requests.Session.send
        recorder = self

        def send(session: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
            if not recorder._on_tests_thread():
                return original(session, request, **kwargs)
            started = _now()
            described = (str(request.method), str(request.url), request.headers, request.body)
            try:
                response = original(session, request, **kwargs)
            except requests.RequestException as exc:
                recorder.rest(described, None, started, exc)
                raise
            body = None if kwargs.get("stream") else response.content
            recorder.rest(described, (response.status_code, response.headers, body), started)
            return response

        requests.Session.send = send  # type: ignore[method-assign,assignment]
        self._undo.append(lambda: setattr(requests.Session, "send", original))


def _httpx_body(request: Any) -> bytes:
    try:
        return bytes(request.content)
    except Exception:  # a streamed body that was not read: nothing to show
        return b""


# ------------------------------------------------------------------------------------- webhooks
_KEY_FIELDS = (
    "digit",
    "digits",
    "cause",
    "errorMessage",
    "tag",
    "machineDetectionResult",
    "transferCallerId",
    "recordingId",
    "endTime",
)


def webhook_record(hook: Any, test: str | None, recorder: Recorder) -> dict[str, Any]:
    """The record of a sink :class:`~conformance.webhooks.records.Webhook` (and its reply)."""
    payload = dict(hook.payload) if isinstance(hook.payload, Mapping) else {}
    outcome = hook.outcome
    reply = outcome.body.decode("utf-8", "replace") if outcome.body else ""
    direction = payload.get("direction")
    host = hook.headers.get("Host", "sink")
    query = "&".join(f"{k}={v}" for k, values in hook.query.items() for v in values)
    stamp = hook.received_at.timestamp()
    return {
        "kind": "exchange",
        "type": "webhook",
        "id": f"{recorder.tag}.w{hook.seq}",
        "test": test,
        "time": stamp,
        "started": hook.received_at.isoformat(timespec="milliseconds"),
        "duration_ms": round(outcome.delay * 1000, 1),
        "event_type": hook.event_type,
        "call_id": hook.call_id,
        "leg": "callee" if direction == "inbound" else "caller",
        "event_time": payload.get("eventTime"),
        "fields": {k: payload[k] for k in _KEY_FIELDS if k in payload and payload[k] not in (None, "")},
        "problems": [str(p) for p in hook.problems],
        "reply_verbs": bxml_verbs(reply),
        "request": {
            "method": hook.method,
            "url": f"http://{host}{hook.path}" + (f"?{query}" if query else ""),
            "headers": _headers(list(hook.headers.items())),
        }
        | _text(hook.body),
        "response": {
            "status": outcome.status,
            "headers": [["Content-Type", outcome.content_type]] if outcome.content_type else [],
            **({"error": "connection dropped"} if outcome.dropped else {}),
        }
        | _text(outcome.body),
    }


def flow_order(steps: Sequence[Any]) -> list[str]:
    """The events of a flow's steps in the order they are written (branches one after another)."""
    order: list[str] = []
    for step in steps:
        if isinstance(step, str):
            order.append(step)
        elif hasattr(step, "branches"):
            for branch in step.branches:
                order.extend(flow_order(branch))
        elif hasattr(step, "event"):
            order.append(str(step.event))
    return order


def note_flow(
    *,
    name: str,
    expected: str,
    order: Sequence[str],
    call_id: str | None,
    selected: Sequence[Any],
    mismatches: Sequence[Any],
) -> None:
    """Record what a flow test expected against what it received: ``order`` is the flow's events in
    the order its steps name them, ``selected`` the sink webhooks the flow judged (in the order it
    saw them, so a mismatch's 1-based ``position`` points into it)."""
    recorder = _ACTIVE
    if recorder is None:
        return
    recorder.write(
        {
            "kind": "flow",
            "test": recorder.test,
            "time": time.time(),
            "name": name,
            "expected": expected,
            "order": list(order),
            "call_id": call_id,
            "selected": [f"{recorder.tag}.w{hook.seq}" for hook in selected],
            "mismatches": [
                {
                    "kind": m.kind,
                    "subject": m.subject,
                    "actual": str(m.actual),
                    "expected": str(m.expected),
                    "position": m.position,
                }
                for m in mismatches
            ],
        }
    )


def read_spool(spool: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every whole record of every spool file (an incomplete last line is skipped)."""
    for path in sorted(Path(spool).glob("*.ndjson")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    yield record
