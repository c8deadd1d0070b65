"""What the recorder writes: masked secrets, binary bodies as base64, whole lines only."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.reports.machine import har_text
from conformance.reports.recording import Recorder, _now, mask_secrets, read_spool
from conformance.reports.run import RunData

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"


def test_secret_fields_and_tokens_are_masked_and_json_stays_json() -> None:
    text = mask_secrets('{"password": null, "clientSecret": "s3cret", "access_token": "eyJa.eyJb.c"}')
    assert json.loads(text) == {"password": None, "clientSecret": "*****", "access_token": "*****"}
    assert mask_secrets("grant_type=client_credentials&client_secret=abc") == (
        "grant_type=client_credentials&client_secret=*****"
    )
    assert mask_secrets("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig") == "Bearer *****"


def test_binary_bodies_are_kept_as_base64_and_marked_in_the_har(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "main")
    recorder.start()
    try:
        headers = [("Authorization", "Basic dXNlcjpwYXNz"), ("Content-Type", "audio/vnd.wave")]
        recorder.rest(("GET", "http://t/media", headers, b""), (200, headers, WAV), _now())
    finally:
        recorder.stop()
    (record,) = read_spool(tmp_path)
    assert record["response"]["encoding"] == "base64"
    assert ["Authorization", "*****"] in record["request"]["headers"]
    har = json.loads(har_text(RunData({}, {}, [], [record], [])))
    content = har["log"]["entries"][0]["response"]["content"]
    assert content["encoding"] == "base64"
    assert content["size"] == len(WAV)


def test_an_incomplete_last_line_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "gw0-1.ndjson").write_text('{"kind": "test", "n": 1}\n{"kind": "te', encoding="utf-8")
    assert [r["n"] for r in read_spool(tmp_path)] == [1]
