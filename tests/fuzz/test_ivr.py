"""The example IVR passes; each variant with one planted bug is caught by exactly the right check."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.fuzz import fuzz_app

from . import apps


def test_the_example_ivr_passes_every_event_and_sequence() -> None:
    report = fuzz_app(apps.create_app(), max_examples=8, seed=7)
    assert report.ok, report.format_text()
    assert set(report.stats) >= {"answer", "gather", "conferenceMemberJoin", "transferAnswer", "disconnect"}
    assert all(stat.sent >= 1 for stat in report.stats.values())
    assert report.sequences_run, "no sequence was replayed"


VARIANTS: list[tuple[str, Any, list[str], set[tuple[str, str]]]] = [
    ("unescaped text", apps.UnescapedTag(), ["answer", "redirect"], {("answer", "invalid_bxml")}),
    ("crash on edge payload", apps.CrashOnEmptyDigits(), ["gather", "answer"], {("gather", "server_error")}),
    (
        "context-forbidden verb (conference)",
        apps.GatherInConference(),
        ["conferenceMemberJoin", "conferenceCreated"],
        {("conferenceMemberJoin", "invalid_bxml")},
    ),
    (
        "context-forbidden verb (transferAnswer)",
        apps.TransferFromTransferAnswer(),
        ["transferAnswer", "transferComplete"],
        {("transferAnswer", "invalid_bxml")},
    ),
    ("out-of-range attribute", apps.PatientMenu(), ["redirect", "dtmf"], {("redirect", "invalid_bxml")}),
    (
        "empty reply to a call event",
        apps.EmptyTransferComplete(),
        ["transferComplete"],
        {("transferComplete", "empty_reply")},
    ),
    (
        "5xx on an informational event",
        apps.CrashOnDisconnectWithoutError(),
        ["disconnect", "dtmf"],
        {("disconnect", "server_error")},
    ),
]


@pytest.mark.parametrize(
    ("handlers", "events", "expected"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS]
)
def test_each_planted_bug_is_found(handlers: Any, events: list[str], expected: set[tuple[str, str]]) -> None:
    report = fuzz_app(apps.create_app(handlers), events=events, max_examples=30, seed=3, sequences=False)
    assert report.checks_failed() == expected, report.format_text()
    for finding in report.findings:
        assert finding.curl.startswith("curl ")
        assert finding.payload["eventType"] == finding.event


def test_bxml_findings_name_the_rule_and_line() -> None:
    report = fuzz_app(
        apps.create_app(apps.PatientMenu()), events=["initiate"], max_examples=5, seed=5, sequences=False
    )
    (finding,) = report.findings
    assert finding.bxml_error is not None
    assert finding.bxml_error.rule == "attribute-range"
    assert finding.bxml_error.line == 2
    assert finding.bxml_error.path == "/Response/Gather[1]"
    assert "firstDigitTimeout" in finding.message
    assert "<Gather" in finding.body_excerpt
    assert finding.status == 200


def test_the_smallest_failing_payload_is_reported() -> None:
    report = fuzz_app(
        apps.create_app(apps.UnescapedTag()), events=["answer"], max_examples=40, seed=11, sequences=False
    )
    (finding,) = report.findings
    assert finding.bxml_error is not None
    assert finding.bxml_error.rule == "malformed-xml"
    # only required fields remain besides the tag, which holds markup
    from conformance.webhooks.events import event

    assert set(finding.payload) - set(event("answer").required) == {"tag"}
    assert "<" in finding.payload["tag"] or "&" in finding.payload["tag"]


def test_a_handler_that_never_answers_is_a_timeout() -> None:
    report = fuzz_app(
        apps.create_app(apps.SlowRedirect()),
        events=["redirect", "answer"],
        max_examples=5,
        seed=1,
        callback_timeout=1.0,
        sequences=False,
    )
    assert report.checks_failed() == {("redirect", "timeout")}, report.format_text()
    assert report.stats["redirect"].sent == 1  # a timed-out handler is not asked again


def test_a_forgotten_route_is_a_status_finding() -> None:
    report = fuzz_app(
        apps.not_found_for("transferDisconnect"), events=["transferDisconnect"], max_examples=5, seed=2
    )
    assert report.checks_failed() == {("transferDisconnect", "status")}
    assert report.findings[0].status == 404


def test_wsgi_apps_run_in_process() -> None:
    report = fuzz_app(
        apps.wsgi_ivr, events=["gather", "conferenceCreated", "disconnect"], max_examples=10, seed=5
    )
    assert report.ok, report.format_text()
    assert report.stats["gather"].sent >= 10
