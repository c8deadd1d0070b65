"""Sequence diagrams from records: collapsing, flags, missing events, escaping, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from conformance.redaction import Redactor
from conformance.reports import parse_formats, write_reports
from conformance.reports.diagram import sequence_svg
from conformance.reports.html import diagram_arrows
from conformance.reports.run import CaseResult, RunData

TEST = "suites/test_x.py::test_flow"


def _webhook(n: int, event: str, leg: str = "caller", reply: str = "", **fields: Any) -> dict[str, Any]:
    payload = {"eventType": event, "callId": "c-1", "eventTime": f"2026-01-01T00:00:0{n % 10}.000Z", **fields}
    return {
        "kind": "exchange",
        "type": "webhook",
        "id": f"main.w{n}",
        "test": TEST,
        "time": 1000.0 + n,
        "started": "2026-01-01T00:00:00.000+00:00",
        "event_type": event,
        "call_id": "c-1",
        "leg": leg,
        "event_time": payload["eventTime"],
        "fields": fields,
        "reply_verbs": ["Hangup"] if reply else [],
        "request": {
            "method": "POST",
            "url": f"http://sink/s/k/{event}",
            "headers": [],
            "body": json.dumps(payload),
        },
        "response": {"status": 200, "headers": [], "body": reply},
    }


def _rest(n: int, body: str = "{}") -> dict[str, Any]:
    return {
        "kind": "exchange",
        "type": "rest",
        "id": f"main.r{n}",
        "test": TEST,
        "time": 1000.0 + n,
        "started": "2026-01-01T00:00:00.000+00:00",
        "duration_ms": 3.0,
        "request": {"method": "POST", "url": "http://t/accounts/1/calls", "headers": [], "body": body},
        "response": {"status": 201, "headers": [], "body": "{}"},
    }


def _flow(order: list[str], selected: list[str], *mismatches: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "flow", "test": TEST, "name": "f", "expected": " -> ".join(order), "order": order,
            "call_id": "c-1", "selected": selected, "mismatches": list(mismatches)}  # fmt: skip


def test_repeated_dtmf_of_a_leg_is_one_arrow_standing_for_each_webhook() -> None:
    records = [
        _webhook(1, "answer"),
        *(_webhook(n, "dtmf", digit=str(n)) for n in (2, 3, 4)),
        _webhook(5, "hangup"),
    ]
    arrows = diagram_arrows(records)
    webhooks = [a for a in arrows if a.style == "webhook"]
    assert [a.ids for a in webhooks] == [("main.w1",), ("main.w2", "main.w3", "main.w4"), ("main.w5",)]
    assert "dtmf x3 digits=234" in webhooks[1].label
    assert len([a for a in arrows if a.style == "reply"]) == 3


def test_missing_event_goes_after_what_precedes_it_and_disorder_is_flagged() -> None:
    records = [_rest(0), _webhook(1, "answer"), _webhook(2, "disconnect"), _webhook(3, "redirect")]
    flow = _flow(
        ["answer", "gather", "redirect", "disconnect"],
        ["main.w1", "main.w2", "main.w3"],
        {"kind": "order", "subject": "redirect", "actual": "", "expected": "", "position": 3},
        {"kind": "missing", "subject": "gather", "actual": "0", "expected": "1", "position": None},
    )
    arrows = diagram_arrows(records, [flow])
    styles = [(a.style, a.ids[0] if a.ids else "") for a in arrows]
    missing = styles.index(("missing", ""))
    assert styles[missing - 2 : missing] == [("webhook", "main.w1"), ("reply", "")]  # after answer's reply
    flagged = [a for a in arrows if a.flag]
    assert [a.ids for a in flagged] == [("main.w3",)]
    assert flagged[0].flag.startswith("out of order")


def test_nothing_received_still_draws_the_missing_event() -> None:
    missing = {"kind": "missing", "subject": "answer", "actual": "0", "expected": "1", "position": None}
    arrows = diagram_arrows([_rest(0)], [_flow(["answer"], [], missing)])
    assert [a.style for a in arrows] == ["rest", "response", "missing"]


def test_hostile_payload_text_is_escaped_in_the_page(tmp_path: Path) -> None:
    hostile = '</title><script>alert(1)</script><img src=x onerror="alert(2)">\x00\x1b'
    records = [_webhook(1, "answer", digits=hostile, reply="<Response><Hangup/></Response>")]
    test = CaseResult(TEST, "flows", "failed", rule=hostile, evidence=hostile, reproduce="run -k x")
    data = RunData({"bw.target": hostile}, {}, [test], records, [])
    write_reports(["html"], tmp_path, data, Redactor())
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;" in page
    assert "\x00" not in page
    assert "\x1b" not in page
    svg = ET.fromstring(ET.tostring(sequence_svg(diagram_arrows(records))))  # well-formed XML
    assert svg.tag.endswith("svg")


def test_reports_pass_the_redactor_and_leave_no_temporary(tmp_path: Path) -> None:
    secret = 'pa"ss<word>&1'
    records = [_rest(0, body=json.dumps({"note": secret}))]
    failed = CaseResult(TEST, "flows", "failed", rule="r", evidence=f"sent {secret}")
    data = RunData({"bw.target": "t"}, {}, [failed], records, [])
    written = write_reports(["html", "ndjson", "har"], tmp_path, data, Redactor([secret]))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    for path in written:
        text = path.read_text(encoding="utf-8")
        for form in (secret, json.dumps(secret)[1:-1], "pa&quot;ss&lt;word&gt;&amp;1"):
            assert form not in text, (path.name, form)
        assert "*****" in text


def test_report_formats_are_checked() -> None:
    assert parse_formats("html, HAR,html") == ["html", "har"]
    with pytest.raises(ValueError, match="vcr"):
        parse_formats("html,vcr")
