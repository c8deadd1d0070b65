"""The report files of a run with one failing flow: diagram, HAR, ndjson, JUnit, no secret anywhere."""

from __future__ import annotations

import json
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from tests.reports.failing_run import CLIENT_SECRET, FLOW_TEST, FailedRun


class _Groups(HTMLParser):
    """The ``<g class="msg ...">`` groups of the page: their classes, record ids and tooltip."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[dict[str, Any]] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "g" and "msg" in (values.get("class") or "").split():
            self.groups.append(
                {
                    "class": (values.get("class") or "").split(),
                    "ids": (values.get("data-ids") or "").split(),
                    "title": "",
                }
            )
        self._in_title = tag == "title" and bool(self.groups)

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title and self.groups and not self.groups[-1]["title"]:
            self.groups[-1]["title"] = data


def test_the_run_fails_and_writes_every_report(failed_run: FailedRun) -> None:
    assert failed_run.returncode == 1, failed_run.stdout[-3000:] + failed_run.stderr[-2000:]
    names = sorted(p.name for p in failed_run.directory.iterdir())
    assert names == ["events.ndjson", "exchanges.har", "junit.xml", "report.html"]  # no temporary left
    for name in names:
        assert f"report: {failed_run.directory / name}" in failed_run.stdout


def test_the_diagram_has_one_arrow_per_webhook_and_one_missing_event(failed_run: FailedRun) -> None:
    entries = failed_run.har()["log"]["entries"]
    webhooks = {e["_id"] for e in entries if e["_type"] == "webhook" and e["_test"].endswith(FLOW_TEST)}
    assert len(webhooks) >= 3  # the callee's initiate, the caller's answer and redirect, ...
    parser = _Groups()
    parser.feed(failed_run.text("report.html"))
    drawn = [g for g in parser.groups if "webhook" in g["class"]]
    assert [i for g in drawn for i in g["ids"]] == sorted(webhooks, key=lambda i: int(i.split(".w")[1]))
    assert all(len(g["ids"]) == 1 for g in drawn)  # no dtmf in this flow: nothing collapsed
    missing = [g for g in parser.groups if "missing" in g["class"]]
    assert len(missing) == 1
    assert "disconnect" in missing[0]["title"]
    # Drawn after the redirect it should have followed, before anything the suite did afterwards.
    order = [
        ("missing" if "missing" in g["class"] else g["ids"][0] if g["ids"] else "") for g in parser.groups
    ]
    redirect = next(e["_id"] for e in entries if (e.get("_webhook") or {}).get("event_type") == "redirect")
    assert order.index("missing") > order.index(redirect)


def test_the_html_shows_the_failure_rule_evidence_and_reproduce_command(failed_run: FailedRun) -> None:
    page = failed_run.text("report.html")
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    assert "missing disconnect" in page
    assert "expected: answer -&gt; redirect -&gt; disconnect" in page
    assert f"-k {FLOW_TEST}" in page
    for fetching in ("<link", "<script", " src=", "url(http", "@import"):  # self-contained: nothing fetched
        assert fetching not in page


def test_har_entries_are_the_recorded_exchanges(failed_run: FailedRun) -> None:
    har = failed_run.har()["log"]
    assert har["version"] == "1.2"
    entries = har["entries"]
    events = failed_run.events()
    recorded = [e["id"] for e in events if e["event"] in ("request", "webhook")]
    assert sorted(e["_id"] for e in entries) == sorted(recorded)
    assert len(set(recorded)) == len(recorded)
    # The target's own log of the Voice API requests it answered (in the order it answered them)
    # holds the suite's requests; a token request runs inside the request it authenticates.
    theirs = [(r["method"], r["path"].split("?")[0], r["status"]) for r in failed_run.target_log]
    answered = sorted(
        (e for e in entries if e["_type"] == "rest"),
        key=lambda e: datetime.fromisoformat(e["startedDateTime"]).timestamp() + e["time"] / 1000,
    )
    ours = [
        (e["request"]["method"], urlsplit(e["request"]["url"]).path, e["response"]["status"])
        for e in answered
        if not urlsplit(e["request"]["url"]).path.startswith(("/_sim/", "/health"))
    ]
    assert ours
    start = next(i for i in range(len(theirs)) if theirs[i : i + len(ours)] == ours)
    assert theirs[start : start + len(ours)] == ours
    for entry in entries:
        assert entry["startedDateTime"]
        assert entry["request"]["method"]
        assert "status" in entry["response"]


def test_ndjson_is_one_event_per_line(failed_run: FailedRun) -> None:
    events = failed_run.events()
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_start"
    assert kinds[-1] == "run_end"
    assert {"test_start", "test_end", "request", "response", "webhook", "flow"} <= set(kinds)
    end = next(e for e in events if e["event"] == "test_end")
    assert end["outcome"] == "failed"
    assert end["rule"] == "missing disconnect"
    assert events[-1]["exit_code"] == 1


def test_no_secret_in_any_report(failed_run: FailedRun) -> None:
    for path in failed_run.directory.iterdir():
        text = path.read_text(encoding="utf-8")
        assert CLIENT_SECRET not in text, path.name
        assert "eyJ" not in text, path.name  # no access token (a JWT starts with base64 of '{"')
    junit = failed_run.text("junit.xml")
    assert 'name="bw.seed"' in junit
    assert json.dumps(CLIENT_SECRET)[1:-1] not in failed_run.text("events.ndjson")
