"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network).

A header says what was tested (target, auth, seed, versions) and the totals by area; then every test
with its verdict.  A failure shows the broken rule, the evidence (expected against received) and the
command that reproduces it.  Every test that exchanged webhooks gets a sequence diagram of its call
(:mod:`conformance.reports.diagram`): REST requests and responses, webhooks with their key fields,
the BXML verbs replied; a webhook the flow expected but never received is a dashed red arrow where it
should have come, and an out-of-order or unexpected webhook is flagged.

The page is built with ElementTree, so every text from the run is escaped.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from conformance.reports.diagram import Arrow, clean, sequence_svg
from conformance.reports.run import CaseResult, RunData

__all__ = ["diagram_arrows", "drawn", "html_text"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:16px 24px;color:#1d1d1d;background:#fff}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:22px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;border:1px solid #ddd;text-align:left;
vertical-align:top}th{background:#f4f4f4}td.n{text-align:right}
.verdict{display:inline-block;min-width:64px;text-align:center;border-radius:3px;padding:0 6px;
font-weight:600;font-size:12px;color:#fff;margin-right:8px}
.verdict.passed{background:#2e7d32}.verdict.failed{background:#c62828}.verdict.skipped{background:#8a8a8a}
.verdict.error{background:#b26a00}.verdict.not-run{background:#5c6bc0}
details{border:1px solid #e2e2e2;border-radius:4px;margin:4px 0;padding:4px 8px}
details[open]{background:#fcfcfc}summary{cursor:pointer}summary code{font-size:13px}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:8px;border-radius:3px;
font-size:12px;max-height:420px;overflow:auto}
.stopped{background:#fff3e0;border:1px solid #b26a00;padding:6px 10px;border-radius:4px}
.diagram{overflow-x:auto;margin:6px 0}
svg.sequence{font:12px system-ui,sans-serif;background:#fff}
svg .lifeline{stroke:#b0b0b0;stroke-dasharray:4 4}
svg .lane{fill:#eef3fa;stroke:#7d93b2}
svg .lane-name{text-anchor:middle;font-weight:600;fill:#1d1d1d}
svg .msg text{text-anchor:middle;fill:#1d1d1d}svg .msg text.time{text-anchor:start;fill:#6d6d6d;
font-family:monospace;font-size:11px}
svg .msg .arrow{stroke-width:1.6}svg .msg.missing .arrow{stroke-width:2.2}
svg .msg.missing text,svg .msg.flagged text{fill:#c62828;font-weight:600}
svg .msg.reply text,svg .msg.response text{fill:#555}
.legend span{margin-right:14px}.muted{color:#6d6d6d}
"""

_LABELS = {
    "bw.target": "target",
    "bw.server": "answering",
    "bw.contract": "contract",
    "bw.profile": "profile",
    "bw.auth": "auth",
    "bw.account": "account",
    "bw.max_examples": "max examples",
    "bw.seed": "seed",
    "bw.version": "bw-conformance",
}


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()})
    if text is not None:
        element.text = clean(text)
    return element


def _body(side: dict[str, Any]) -> str:
    """A recorded body as text, a binary one described by its size."""
    if side.get("encoding") == "base64":
        return f"({side.get('size', '?')} bytes, not text)"
    return str(side.get("body", ""))


def _clock(value: Any) -> str:
    """``HH:MM:SS.mmm`` of an ISO time (a webhook's eventTime), or ''."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return ""
    return when.strftime("%H:%M:%S.%f")[:-3]


def _path(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path
    marker = path.find("/calls")
    if "/accounts/" in path and marker > 0:
        path = "…" + path[marker:]
    return path + (f"?{parts.query}" if parts.query else "")


def _body_excerpt(body: str, limit: int = 60) -> str:
    body = " ".join(body.split())
    return body if len(body) <= limit else body[: limit - 1] + "…"


def _detail(record: dict[str, Any], part: str) -> str:
    side = record[part]
    head = f"{record['request']['method']} {record['request']['url']}" if part == "request" else ""
    if part == "response":
        head = f"{side.get('status')} {side.get('error', '')}".strip()
    headers = "\n".join(f"{name}: {value}" for name, value in side.get("headers", []))
    body = _body(side)
    if body and part == "request" and record.get("type") == "webhook":
        with contextlib.suppress(ValueError):
            body = json.dumps(json.loads(body), indent=1)
    return f"{head}\n{headers}\n\n{body}".strip()


def _webhook_label(record: dict[str, Any]) -> str:
    fields = record.get("fields") or {}
    extra = " ".join(f"{key}={value}" for key, value in fields.items() if key != "endTime")
    return f"{record.get('event_type') or '(no eventType)'} {extra}".strip()


def _reply_label(records: Sequence[dict[str, Any]]) -> str:
    last = records[-1]
    status = last["response"].get("status")
    verbs = last.get("reply_verbs") or []
    what = ", ".join(verbs) if verbs else ("no BXML" if status is not None else "dropped")
    many = f"x{len(records)} " if len(records) > 1 else ""
    return f"{many}{status if status is not None else '—'} {what}"


def _flags(flows: Sequence[dict[str, Any]]) -> dict[str, str]:
    flags: dict[str, str] = {}
    for flow in flows:
        selected = flow.get("selected") or []
        for mismatch in flow.get("mismatches") or []:
            position = mismatch.get("position")
            if isinstance(position, int) and 0 < position <= len(selected):
                word = {"order": "out of order"}.get(str(mismatch["kind"]), str(mismatch["kind"]))
                flags[selected[position - 1]] = f"{word}: {mismatch['subject']}"
    return flags


def drawn(record: dict[str, Any]) -> bool:
    """Whether a record is drawn in a diagram: webhooks and Voice API requests are; the control API
    (``/_sim/``), ``/health`` and token requests are only listed in the HAR and ndjson files."""
    if record.get("type") == "webhook":
        return True
    path = urlsplit(str(record["request"]["url"])).path
    return not (path.startswith("/_sim/") or path == "/health" or path.endswith("/oauth2/token"))


def diagram_arrows(exchanges: Sequence[dict[str, Any]], flows: Sequence[dict[str, Any]] = ()) -> list[Arrow]:
    """The arrows of one test's diagram, in recorded order: REST exchanges, webhooks and replies
    (consecutive dtmf webhooks of a leg collapsed into one arrow), then each expected-but-missing
    webhook placed after the last received webhook that comes before it in its flow."""
    flags = _flags(flows)
    arrows: list[Arrow] = []
    where: dict[str, int] = {}  # record id -> index of the arrow after which the next one goes
    index = 0
    items = [record for record in exchanges if drawn(record)]
    while index < len(items):
        record = items[index]
        if record.get("type") != "webhook":
            request = record["request"]
            arrows.append(
                Arrow(
                    "suite",
                    "target",
                    f"{request['method']} {_path(str(request['url']))}",
                    "rest",
                    detail=_detail(record, "request"),
                    ids=(str(record["id"]),),
                )
            )
            response = record["response"]
            status = response.get("status")
            arrows.append(
                Arrow(
                    "target",
                    "suite",
                    f"{status if status is not None else response.get('error', 'no response')} "
                    + _body_excerpt(_body(response), 40),
                    "response",
                    detail=_detail(record, "response"),
                )
            )
            index += 1
            continue
        group = [record]
        while (
            record.get("event_type") == "dtmf"
            and index + len(group) < len(items)
            and items[index + len(group)].get("event_type") == "dtmf"
            and items[index + len(group)].get("leg") == record.get("leg")
            and not flags.get(str(items[index + len(group)]["id"]))
        ):
            group.append(items[index + len(group)])
        lane = f"{record.get('leg', 'caller')} app"
        ids = tuple(str(r["id"]) for r in group)
        if len(group) > 1:
            digits = "".join(str((r.get("fields") or {}).get("digit", "")) for r in group)
            label = f"dtmf x{len(group)} digits={digits}"
        else:
            label = _webhook_label(record)
        arrows.append(
            Arrow(
                "target",
                lane,
                label,
                "webhook",
                detail="\n\n".join(_detail(r, "request") for r in group),
                time=_clock(record.get("event_time")),
                flag=flags.get(ids[0], ""),
                ids=ids,
            )
        )
        arrows.append(
            Arrow(lane, "target", _reply_label(group), "reply", detail=_detail(group[-1], "response"))
        )
        for record_id in ids:
            where[record_id] = len(arrows)
        index += len(group)
    _insert_missing(arrows, where, exchanges, flows)
    return arrows


def _insert_missing(
    arrows: list[Arrow],
    where: dict[str, int],
    exchanges: Sequence[dict[str, Any]],
    flows: Sequence[dict[str, Any]],
) -> None:
    events = {str(r["id"]): r for r in exchanges if r.get("type") == "webhook"}
    inserts: list[tuple[int, Arrow]] = []
    for flow in flows:
        order = [str(e) for e in flow.get("order") or []]
        selected = [str(s) for s in flow.get("selected") or [] if str(s) in where]
        legs = [events[s].get("leg") for s in selected if s in events]
        lane = f"{legs[0] if legs else 'caller'} app"
        for mismatch in flow.get("mismatches") or []:
            if mismatch.get("kind") != "missing":
                continue
            event = str(mismatch["subject"])
            before = set(order[: order.index(event)]) if event in order else set()
            after = [s for s in selected if events[s].get("event_type") in before]
            at = where[after[-1]] if after else (where[selected[0]] - 2 if selected else len(arrows))
            label = (
                f"missing: {event} (expected {mismatch.get('expected')}, received {mismatch.get('actual')})"
            )
            detail = f"flow {flow.get('name')!r} expected: {flow.get('expected')}\n{label}"
            inserts.append((at, Arrow("target", lane, label, "missing", detail=detail)))
    for at, arrow in sorted(inserts, key=lambda item: item[0], reverse=True):
        arrows.insert(max(0, at), arrow)


def _header(body: ET.Element, data: RunData) -> None:
    _sub(body, "h1", "bw-conformance report")
    table = _sub(body, "table", class_="properties")
    for key, value in data.properties.items():
        row = _sub(table, "tr")
        _sub(row, "th", _LABELS.get(key, key))
        _sub(row, "td", value)
    if data.started is not None:
        row = _sub(table, "tr")
        _sub(row, "th", "started")
        stamp = datetime.fromtimestamp(data.started, UTC).isoformat(timespec="seconds")
        duration = f" ({data.finished - data.started:.1f} s)" if data.finished else ""
        _sub(row, "td", stamp + duration)
    if data.stopped:
        _sub(body, "p", f"Stopped: {data.stopped}", class_="stopped")
    totals = _sub(body, "table", class_="totals")
    head = _sub(totals, "tr")
    for column in ("area", "passed", "failed", "skipped", "not run"):
        _sub(head, "th", column)
    areas = sorted({t.area for t in data.tests}, key=lambda a: (a == "other", a))
    for area in areas:
        row = _sub(totals, "tr")
        _sub(row, "td", area)
        of_area = [t for t in data.tests if t.area == area]
        for outcome in ("passed", "failed", "skipped", "not run"):
            count = sum(
                1 for t in of_area if t.outcome == outcome or (outcome == "failed" and t.outcome == "error")
            )
            _sub(row, "td", str(count), class_="n")


def _test(parent: ET.Element, data: RunData, test: CaseResult, number: int) -> None:
    bad = test.outcome in ("failed", "error")
    details = _sub(parent, "details", id=f"t{number}", class_=f"test {test.outcome.replace(' ', '-')}")
    if bad:
        details.set("open", "open")
    summary = _sub(details, "summary")
    _sub(summary, "span", test.outcome, class_=f"verdict {test.outcome.replace(' ', '-')}")
    summary_text = _sub(summary, "code", test.nodeid)
    summary_text.tail = " "
    exchanges = data.exchanges_of(test.nodeid)
    webhooks = sum(1 for r in exchanges if r.get("type") == "webhook")
    _sub(summary, "span", f"{len(exchanges) - webhooks} requests, {webhooks} webhooks", class_="muted")
    if test.start is not None and test.end is not None:
        _sub(details, "p", f"{test.end - test.start:.2f} s", class_="muted")
    if bad:
        _sub(details, "p").append(_labelled("rule broken: ", test.rule))
        _sub(details, "pre", test.evidence)
        if test.reproduce:
            _sub(details, "p").append(_labelled("reproduce: ", test.reproduce, code=True))
        rest = [r for r in exchanges if r.get("type") == "rest"]
        if rest:
            command = f"bw-conformance replay exchanges.har --id {rest[-1]['id']}"
            _sub(details, "p").append(_labelled("replay its last request: ", command, code=True))
    if webhooks or data.flows_of(test.nodeid):
        for flow in data.flows_of(test.nodeid):
            _sub(details, "p", f"flow {flow.get('name')!r} expected: {flow.get('expected')}", class_="muted")
        hidden = sum(1 for r in exchanges if not drawn(r))
        if hidden:
            text = f"{hidden} control, health or token requests are not drawn (they are in the HAR file)"
            _sub(details, "p", text, class_="muted")
        box = _sub(details, "div", class_="diagram")
        box.append(sequence_svg(diagram_arrows(exchanges, data.flows_of(test.nodeid)), key=f"t{number}"))


def _labelled(label: str, value: str, *, code: bool = False) -> ET.Element:
    span = ET.Element("span")
    _sub(span, "strong", label)
    _sub(span, "code" if code else "span", value)
    return span


def html_text(data: RunData) -> str:
    """The report page as text."""
    html = ET.Element("html", {"lang": "en"})
    head = _sub(html, "head")
    _sub(head, "meta", charset="utf-8")
    _sub(head, "meta", name="viewport", content="width=device-width, initial-scale=1")
    target = data.properties.get("bw.target", "")
    _sub(head, "title", f"bw-conformance report: {target}")
    _sub(head, "style", _CSS)
    body = _sub(html, "body")
    _header(body, data)
    legend = _sub(body, "p", class_="legend muted")
    for text in (
        "diagrams: time runs down the page in the order things were recorded",
        "left column: the webhook's eventTime",
        "hover an arrow for the full exchange",
        "dashed red: a webhook the flow expected and never received",
    ):
        _sub(legend, "span", text)
    ordered = sorted(
        enumerate(data.tests), key=lambda item: (item[1].outcome not in ("failed", "error"), item[0])
    )
    areas: dict[str, ET.Element] = {}
    for number, test in ordered:
        section = areas.get(test.area)
        if section is None:
            section = areas[test.area] = _sub(body, "section")
            _sub(section, "h2", f"{test.area}")
        _test(section, data, test, number)
    text = ET.tostring(html, encoding="unicode", method="html")
    return "<!DOCTYPE html>\n" + text + "\n"
