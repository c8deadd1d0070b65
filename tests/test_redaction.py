"""The last filter on what a run prints or writes: known secrets and any written credential."""

from __future__ import annotations

import io
from pathlib import Path
from xml.etree import ElementTree as ET

from conformance.redaction import MASK, RedactingStream, Redactor
from conformance.reports_junit import finish_junit


def test_known_secrets_and_written_credentials_are_masked() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJidy1jbGllbnQifQ.c2lnbmF0dXJl"
    redact = Redactor(["hunter2-secret"], extra=lambda: [token])
    text = (
        "password hunter2-secret; -H 'Authorization: Bearer abcdefghijkl' "
        f"token {token}; Basic YnctdXNlcjpidy1wYXNz"
    )
    shown = redact(text)
    assert "hunter2-secret" not in shown
    assert token not in shown
    assert "abcdefghijkl" not in shown
    assert "YnctdXNlcjpidy1wYXNz" not in shown
    assert shown.count(MASK) == 4


def test_references_and_ordinary_words_are_left_alone() -> None:
    redact = Redactor(["abc"])  # too short to be told from ordinary text: not a secret to mask
    text = 'curl -H "Authorization: Bearer $TOKEN" -u "user:$BW_PASSWORD" # abc Basic auth'
    assert redact(text) == text


def test_the_stream_forwards_redacted_text_and_its_terminal_state() -> None:
    inner = io.StringIO()
    stream = RedactingStream(inner, Redactor(["s3cret-value"]))
    assert stream.write("a s3cret-value b") == len("a s3cret-value b")
    stream.flush()
    assert inner.getvalue() == f"a {MASK} b"
    assert stream.isatty() is False


def test_junit_is_completed_redacted_and_renamed(tmp_path: Path) -> None:
    partial = tmp_path / ".report.partial"
    partial.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="1">'
        '<testcase name="t"><failure message="pw s3cret-value">Bearer abcdefghijkl &amp; s3cret-value'
        "</failure></testcase></testsuite></testsuites>",
        encoding="utf-8",
    )
    final = tmp_path / "out" / "junit.xml"
    finish_junit(partial, final, {"bw.seed": "7"}, Redactor(["s3cret-value"]))
    assert not partial.exists()
    text = final.read_text(encoding="utf-8")
    assert "s3cret-value" not in text
    assert "abcdefghijkl" not in text
    root = ET.fromstring(text)
    assert [(p.get("name"), p.get("value")) for p in root.iter("property")] == [("bw.seed", "7")]
