"""The machine-readable reports: ndjson (one event per line) and HAR 1.2 (every HTTP exchange)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from conformance.reports.run import RunData

__all__ = ["har_text", "ndjson_text"]


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def _line(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)


def ndjson_text(data: RunData) -> str:
    """One JSON event per line, in time order: run, test start/end, request, response, webhook, flow,
    then the run's end with its totals."""
    timed: list[tuple[float, int, dict[str, Any]]] = []
    for order, test in enumerate(data.tests):
        if test.start is not None:
            timed.append((test.start, order, {"event": "test_start", "test": test.nodeid, "area": test.area}))
        end = {
            "event": "test_end",
            "test": test.nodeid,
            "area": test.area,
            "outcome": test.outcome,
            **({"rule": test.rule, "evidence": test.evidence} if test.rule else {}),
            **({"reproduce": test.reproduce} if test.reproduce else {}),
        }
        timed.append((test.end if test.end is not None else float("inf"), order, end))
    for record in data.exchanges:
        stamp = float(record["time"])
        base = {"id": record["id"], "test": record.get("test"), "time": record.get("started")}
        if record.get("type") == "webhook":
            timed.append((stamp, 0, {"event": "webhook", **base, **_webhook_fields(record)}))
            continue
        timed.append((stamp, 0, {"event": "request", **base, **record["request"]}))
        done = stamp + float(record.get("duration_ms") or 0) / 1000
        timed.append((done, 1, {"event": "response", **base, "time": _iso(done), **record["response"]}))
    for flow in data.flows:
        event = {"event": "flow", **{k: v for k, v in flow.items() if k != "kind"}}
        timed.append((float(flow["time"]), 2, event))
    timed.sort(key=lambda item: (item[0], item[1]))
    lines = [_line({"event": "run_start", "time": _iso(data.started), "properties": data.properties})]
    lines.extend(_line(event) for _, _, event in timed)
    lines.append(
        _line(
            {
                "event": "run_end",
                "time": _iso(data.finished),
                "exit_code": data.exit_code,
                "stopped": data.stopped,
                "counts": data.counts,
            }
        )
    )
    return "\n".join(lines) + "\n"


def _webhook_fields(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("event_type", "call_id", "leg", "event_time", "fields", "problems", "reply_verbs")
    return {
        **{key: record.get(key) for key in keys},
        "request": record["request"],
        "reply": record["response"],
    }


def _har_headers(pairs: list[list[str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def _mime(pairs: list[list[str]]) -> str:
    for name, value in pairs:
        if name.lower() == "content-type":
            return value
    return ""


def _har_entry(record: dict[str, Any]) -> dict[str, Any]:
    request, response = record["request"], record["response"]
    url = str(request["url"])
    status = response.get("status")
    request_headers = request.get("headers", [])
    response_headers = response.get("headers", [])
    duration = float(record.get("duration_ms") or 0)
    entry: dict[str, Any] = {
        "startedDateTime": record["started"],
        "time": duration,
        "request": {
            "method": request["method"],
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _har_headers(request_headers),
            "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query)],
            "headersSize": -1,
            "bodySize": int(request.get("size", len(request.get("body", "").encode()))),
        },
        "response": {
            "status": status if isinstance(status, int) else 0,
            "statusText": "" if isinstance(status, int) else str(response.get("error", "no response")),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _har_headers(response_headers),
            "content": {
                "size": int(response.get("size", 0)),
                "mimeType": _mime(response_headers),
                "text": response.get("body", ""),
                **({"encoding": "base64"} if response.get("encoding") == "base64" else {}),
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": int(response.get("size", -1)),
        },
        "cache": {},
        "timings": {"send": 0, "wait": duration, "receive": 0},
        "_id": record["id"],
        "_type": record.get("type"),
        "_test": record.get("test"),
    }
    if request.get("body"):
        entry["request"]["postData"] = {"mimeType": _mime(request_headers), "text": request["body"]}
        if request.get("encoding") == "base64":  # not text: HAR has no encoding for postData
            entry["request"]["postData"]["_encoding"] = "base64"
    if record.get("type") == "webhook":
        entry["_webhook"] = _webhook_fields(record) | {"request": None, "reply": None}
    return entry


def har_text(data: RunData) -> str:
    """HAR 1.2: every recorded exchange (REST requests of the suites, webhooks with the sink's reply)."""
    from conformance import __version__

    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "bw-conformance", "version": __version__},
            "comment": "bw-conformance run; entries of _type webhook: the target called the sink",
            "_run": data.properties,
            "entries": [_har_entry(record) for record in data.exchanges],
        }
    }
    # Compact: with an indent the json module falls back to its pure-Python encoder (many times slower).
    return json.dumps(har, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
