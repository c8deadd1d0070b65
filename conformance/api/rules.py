"""Bandwidth-specific response rules, as pure functions over status, headers and parsed body.

Each rule returns a list of problems (human-readable sentences); an empty list means the response
obeys the rule.  The schemathesis checks in :mod:`conformance.api.checks` and the deterministic tests
in ``conformance.suites`` both call these, so a rule is stated once.

Facts the rules encode (Bandwidth Voice API):

* every 4xx/5xx answer carries a ``voiceApiError`` JSON object: ``type`` and ``description`` strings,
  ``id`` a string or null when present;
* createCall answers 201 with a ``Location`` header equal to the body's ``callUrl``;
* ids have documented shapes: call ids ``c-`` + 45 characters (47 in all), conference ids ``conf-`` + 45
  (50 in all), recording ids ``r-`` + 45 (47 in all), transcription ids start with ``t-``, application
  ids are UUIDs and account ids are digits;
* in a call's state, ``enqueuedTime <= startTime <= answerTime <= endTime`` wherever they are set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "ID_FORMATS",
    "call_time_problems",
    "error_body_problems",
    "id_format_problems",
    "location_problems",
    "parse_json",
]

_HEX_TAIL = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# kind -> (pattern, human description)
ID_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "call": (re.compile(rf"^c-{_HEX_TAIL}$"), "'c-' followed by 45 hex/dash characters (47 in all)"),
    "conference": (re.compile(rf"^conf-{_HEX_TAIL}$"), "'conf-' followed by 45 hex/dash characters"),
    "recording": (re.compile(rf"^r-{_HEX_TAIL}$"), "'r-' followed by 45 hex/dash characters (47 in all)"),
    "transcription": (re.compile(r"^t-[0-9a-fA-F-]{8,}$"), "'t-' followed by hex/dash characters"),
    "application": (re.compile(rf"^{_UUID}$"), "a UUID (36 characters)"),
    "account": (re.compile(r"^[0-9]{1,20}$"), "digits"),
}

# JSON member name -> id kind.  ``id`` is handled per container (see _ID_OWNERS).
_ID_FIELDS = {
    "callId": "call",
    "parentCallId": "call",
    "conferenceId": "conference",
    "recordingId": "recording",
    "transcriptionId": "transcription",
    "applicationId": "application",
    "accountId": "account",
}
_CALL_TIMES = ("enqueuedTime", "startTime", "answerTime", "endTime")


def parse_json(content: bytes) -> tuple[bool, Any]:
    """``(True, value)`` when ``content`` is JSON, else ``(False, None)``."""
    if not content:
        return False, None
    try:
        return True, json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return False, None


def _header(headers: Mapping[str, Sequence[str] | str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            if isinstance(value, str):
                return value
            return value[0] if value else ""
    return None


def error_body_problems(status: int, headers: Mapping[str, Sequence[str] | str], content: bytes) -> list[str]:
    """Problems with the error body of a 4xx/5xx response (none for other statuses)."""
    if status < 400:
        return []
    problems: list[str] = []
    content_type = _header(headers, "content-type")
    if content_type is None or not content_type.split(";")[0].strip().lower().endswith("json"):
        problems.append(f"Content-Type must be application/json, got {content_type!r}")
    ok, body = parse_json(content)
    if not ok:
        preview = content[:80].decode("utf-8", "replace")
        problems.append(f"the body must be a voiceApiError JSON object, got non-JSON {preview!r}")
        return problems
    if not isinstance(body, dict):
        problems.append(f"the body must be a voiceApiError JSON object, got {type(body).__name__}")
        return problems
    for member in ("type", "description"):
        value = body.get(member)
        if not isinstance(value, str) or not value:
            problems.append(f"voiceApiError.{member} must be a non-empty string, got {value!r}")
    if "id" in body and body["id"] is not None and not isinstance(body["id"], str):
        problems.append(f"voiceApiError.id must be a string or null, got {body['id']!r}")
    return problems


def location_problems(
    status: int, headers: Mapping[str, Sequence[str] | str], body: Any, *, account_id: str | None = None
) -> list[str]:
    """Problems with createCall's ``Location`` header against the body's ``callUrl`` (201 only).

    The ``callUrl`` must be an absolute http(s) URL ending in ``/calls/{callId}`` and, when
    ``account_id`` is given, in ``/accounts/{account_id}/calls/{callId}``.
    """
    if status != 201:
        return []
    location = _header(headers, "location")
    call_url = body.get("callUrl") if isinstance(body, dict) else None
    call_id = body.get("callId") if isinstance(body, dict) else None
    problems: list[str] = []
    if not location:
        problems.append("a 201 from createCall must carry a Location header")
    if not isinstance(call_url, str) or not call_url:
        problems.append(f"the body's callUrl must be a non-empty string, got {call_url!r}")
    elif location and location != call_url:
        problems.append(f"Location {location!r} must equal the body's callUrl {call_url!r}")
    if isinstance(call_url, str) and call_url:
        if not re.match(r"^https?://[^/]+", call_url):
            problems.append(f"callUrl {call_url!r} must be an absolute http(s) URL")
        if isinstance(call_id, str):
            tail = f"/accounts/{account_id}/calls/{call_id}" if account_id else f"/calls/{call_id}"
            if not call_url.rstrip("/").endswith(tail):
                problems.append(f"callUrl {call_url!r} must end with {tail!r}")
    return problems


def _walk(value: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        yield path, value
        for key, member in value.items():
            yield from _walk(member, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def id_format_problems(body: Any, *, id_kind: str | None = None) -> list[str]:
    """Problems with the ids anywhere in a JSON body.

    ``id_kind`` names the kind of a bare ``id`` member at the top level or in top-level list items
    (``"conference"`` for the conference endpoints); bare ``id`` members are otherwise not checked.
    """
    problems: list[str] = []
    for path, obj in _walk(body):
        depth_ok = path == "$" or re.fullmatch(r"\$\[\d+\]", path) is not None
        for key, value in obj.items():
            kind = _ID_FIELDS.get(key)
            if kind is None and key == "id" and id_kind is not None and depth_ok:
                kind = id_kind
            if kind is None or value is None:
                continue
            pattern, description = ID_FORMATS[kind]
            if not isinstance(value, str) or not pattern.fullmatch(value):
                problems.append(f"{path}.{key} = {value!r} is not a {kind} id: expected {description}")
    return problems


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def call_time_problems(body: Any) -> list[str]:
    """Problems with the order of enqueuedTime, startTime, answerTime and endTime in call states.

    Applies to a call state object or a list of them; times that are absent or null are skipped.
    """
    problems: list[str] = []
    items = body if isinstance(body, list) else [body]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        where = f"$[{index}]" if isinstance(body, list) else "$"
        seen: list[tuple[str, datetime]] = []
        for name in _CALL_TIMES:
            raw = item.get(name)
            if raw is None:
                continue
            parsed = _parse_time(raw)
            if parsed is None:
                problems.append(f"{where}.{name} = {raw!r} is not an ISO 8601 date-time")
                continue
            if parsed.tzinfo is None:
                problems.append(f"{where}.{name} = {raw!r} has no UTC offset")
                continue
            for earlier_name, earlier in seen:
                if parsed < earlier:
                    problems.append(
                        f"{where}: {earlier_name} ({item[earlier_name]}) must not be after {name} ({raw})"
                    )
            seen.append((name, parsed))
        state = item.get("state")
        if state == "disconnected" and item.get("endTime") is None and "endTime" in item:
            problems.append(f"{where}: a disconnected call must have an endTime")
    return problems
