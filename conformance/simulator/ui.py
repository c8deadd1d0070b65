"""``/_sim/ui``: the simulator's live view of its calls, for a developer dialing their voice app.

The page lists the latest calls with their state; for the call chosen (``?call=ID``) it draws the
same sequence diagram as the HTML report (:mod:`conformance.reports.diagram`), from the simulator's
own logs: the request log (``/_sim/requests``) and a log of the webhooks it sent with the replies it
got, kept here (:class:`WebhookLog`, bounded).  Times are the simulator's clock (the same clock as
the webhooks' ``eventTime``).  A small inline script polls ``/_sim/ui/state`` every second, so the
diagram grows while the call runs; without scripts the page is complete as served.

Everything shown is escaped (ElementTree builds the markup); the routes live under ``/_sim/``, so
the control API's guard applies to them as to the rest of it.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree as ET

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conformance.simulator.runtime import Runtime

__all__ = ["WebhookLog", "install_webhook_log", "ui_routes"]

MAX_WEBHOOKS = 5000  # webhooks kept in the log (the oldest go first)
MAX_CALLS = 50  # calls listed
_REPLY_LIMIT = 8192
_LANES = ("suite", "target", "caller app", "callee app")
_TITLES = ("your REST client", "simulator", "outbound leg's app", "inbound leg's app")


class WebhookLog:
    """The webhooks the simulator sent (payload, URL, reply or error), newest last, bounded."""

    def __init__(self, size: int = MAX_WEBHOOKS) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._seq = 0

    def add(
        self, url: str, payload: Mapping[str, Any], status: int | None, reply: str, error: str = ""
    ) -> None:
        self._seq += 1
        self.entries.append(
            {
                "seq": self._seq,
                "wall": time.time(),
                "url": url,
                "payload": dict(payload),
                "status": status,
                "reply": reply[:_REPLY_LIMIT],
                "error": error,
            }
        )

    def of_call(self, call_id: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["payload"].get("callId") == call_id]


def install_webhook_log(runtime: Runtime) -> WebhookLog:
    """The runtime's webhook log, installed on first use around its deliverer's ``send``."""
    existing = getattr(runtime, "_bw_webhook_log", None)
    if isinstance(existing, WebhookLog):
        return existing
    log = WebhookLog()
    object.__setattr__(runtime, "_bw_webhook_log", log)
    deliverer = getattr(runtime.engine, "deliverer", None)
    original = getattr(deliverer, "send", None)
    if deliverer is None or original is None:
        return log  # an engine without webhooks: the view shows REST requests only

    async def send(target: Any, payload: Mapping[str, Any], **kwargs: Any) -> Any:
        url = str(getattr(target, "url", ""))
        try:
            reply = await original(target, payload, **kwargs)
        except Exception as exc:
            log.add(url, payload, None, "", f"{type(exc).__name__}: {exc}")
            raise
        raw = getattr(reply, "raw", b"")
        log.add(str(getattr(reply, "url", url)), payload, getattr(reply, "status", None),
                raw.decode("utf-8", "replace") if isinstance(raw, bytes) else "")  # fmt: skip
        return reply

    deliverer.send = send
    return log


# ------------------------------------------------------------------------------------- records
def _time(value: Any) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _records(runtime: Runtime, log: WebhookLog, call: Any) -> list[dict[str, Any]]:
    """The call's exchanges as report records (so the report's diagram code draws them)."""
    from conformance.reports.recording import bxml_verbs

    records: list[dict[str, Any]] = []
    created = call.enqueued_time.timestamp() if call.enqueued_time is not None else None
    for entry in list(runtime.store.requests):
        stamp = entry.time.timestamp()
        mine = call.call_id in entry.path or (
            entry.operation == "createCall" and created is not None and abs(stamp - created) < 0.001
        )
        if not mine:
            continue
        records.append(
            {
                "type": "rest",
                "id": f"q{entry.seq}",
                "time": stamp,
                "request": {"method": entry.method, "url": entry.path, "headers": [], "body": ""},
                "response": {
                    "status": entry.status,
                    "headers": [],
                    "body": f"[{entry.rule}] {entry.description or ''}" if entry.rule else "",
                },
            }
        )
    for hook in log.of_call(call.call_id):
        payload = hook["payload"]
        records.append(
            {
                "type": "webhook",
                "id": f"h{hook['seq']}",
                "time": _time(payload.get("eventTime")),
                "event_type": payload.get("eventType"),
                "leg": "callee" if payload.get("direction") == "inbound" else "caller",
                "event_time": payload.get("eventTime"),
                "fields": {
                    k: payload[k] for k in ("digits", "cause", "errorMessage", "tag") if payload.get(k)
                },
                "reply_verbs": bxml_verbs(hook["reply"]),
                "request": {"method": "POST", "url": hook["url"], "headers": [], "body": json.dumps(payload)},
                "response": {
                    "status": hook["status"],
                    "headers": [],
                    "body": hook["reply"],
                    **({"error": hook["error"]} if hook["error"] else {}),
                },
            }
        )
    return sorted(records, key=lambda r: (r["time"], r["type"] == "webhook"))


# --------------------------------------------------------------------------------------- markup
def _calls_table(runtime: Runtime, selected: str | None) -> ET.Element:
    table = ET.Element("table", {"class": "calls"})
    head = ET.SubElement(table, "tr")
    for column in ("call", "direction", "from", "to", "state", "enqueued", "cause"):
        ET.SubElement(head, "th").text = column
    calls = list(runtime.store.calls.values())[-MAX_CALLS:]
    for call in reversed(calls):
        row = ET.SubElement(table, "tr", {"class": "chosen"} if call.call_id == selected else {})
        link = ET.SubElement(ET.SubElement(row, "td"), "a", {"href": f"/_sim/ui?call={call.call_id}"})
        link.text = call.call_id
        enqueued = call.enqueued_time.strftime("%H:%M:%S") if call.enqueued_time else ""
        for value in (call.direction, call.from_, call.to, call.state, enqueued, call.disconnect_cause or ""):
            ET.SubElement(row, "td").text = str(value)
    if not calls:
        ET.SubElement(ET.SubElement(table, "tr"), "td", {"colspan": "7"}).text = "no calls yet"
    return table


def _diagram(runtime: Runtime, log: WebhookLog, call_id: str | None) -> tuple[ET.Element, bool]:
    from conformance.reports.diagram import sequence_svg
    from conformance.reports.html import diagram_arrows

    box = ET.Element("div", {"class": "diagram"})
    call = runtime.store.calls.get(call_id) if call_id else None
    if call is None:
        ET.SubElement(box, "p").text = "choose a call" if not call_id else f"no call {call_id}"
        return box, False
    ET.SubElement(box, "h2").text = f"{call.call_id} ({call.state})"
    arrows = diagram_arrows(_records(runtime, log, call))
    box.append(sequence_svg(arrows, lanes=_LANES, titles=_TITLES, key="live"))
    return box, not call.ended


def _text(element: ET.Element) -> str:
    return ET.tostring(element, encoding="unicode", method="html")


_STYLE = """
body{font:14px system-ui,sans-serif;margin:16px 24px;color:#1d1d1d}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}tr.chosen{background:#eef3fa}
svg.sequence{font:12px system-ui,sans-serif}svg .lifeline{stroke:#b0b0b0;stroke-dasharray:4 4}
svg .lane{fill:#eef3fa;stroke:#7d93b2}svg .lane-name{text-anchor:middle;font-weight:600}
svg .msg text{text-anchor:middle}svg .msg text.time{text-anchor:start;fill:#6d6d6d;font-family:monospace}
svg .msg.reply text,svg .msg.response text{fill:#555}
"""

_SCRIPT = """
(function () {
  var query = window.location.search;
  function refresh() {
    fetch("/_sim/ui/state" + query, {cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        document.getElementById("calls").innerHTML = state.calls;
        document.getElementById("diagram").innerHTML = state.diagram;
      })
      .catch(function () {});
  }
  window.setInterval(refresh, 1000);
})();
"""


def _selected(request: Request) -> str | None:
    value = request.query_params.get("call")
    return value if value and len(value) <= 200 else None


def ui_routes(runtime: Runtime) -> list[BaseRoute]:
    """``GET /_sim/ui`` (the page) and ``GET /_sim/ui/state`` (its calls and diagram, as JSON)."""
    log = install_webhook_log(runtime)

    async def page(request: Request) -> Response:
        selected = _selected(request)
        html = ET.Element("html", {"lang": "en"})
        head = ET.SubElement(html, "head")
        ET.SubElement(head, "meta", {"charset": "utf-8"})
        ET.SubElement(head, "title").text = "bw-conformance simulator: calls"
        ET.SubElement(head, "style").text = _STYLE
        body = ET.SubElement(html, "body")
        ET.SubElement(body, "h1").text = "Simulator calls"
        ET.SubElement(body, "div", {"id": "calls"}).append(_calls_table(runtime, selected))
        diagram, _ = _diagram(runtime, log, selected)
        ET.SubElement(body, "div", {"id": "diagram"}).append(diagram)
        ET.SubElement(body, "script").text = _SCRIPT
        return HTMLResponse("<!DOCTYPE html>\n" + _text(html), headers={"Cache-Control": "no-store"})

    async def state(request: Request) -> Response:
        selected = _selected(request)
        diagram, live = _diagram(runtime, log, selected)
        content = {"calls": _text(_calls_table(runtime, selected)), "diagram": _text(diagram), "live": live}
        return JSONResponse(content, headers={"Cache-Control": "no-store"})

    return [Route("/_sim/ui", page, methods=["GET"]), Route("/_sim/ui/state", state, methods=["GET"])]
