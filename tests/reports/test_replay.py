"""``bw-conformance replay``: recorded requests sent again to a live target, answers compared."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.cli import main
from tests.reports.failing_run import ENV, FLOW_TEST, FailedRun
from tests.suites.broken_targets import Breakage, serve

_UNBROKEN = Breakage("none", (), "", ())


def cli(args: list[str]) -> tuple[int, str, str]:
    """``bw-conformance ARGS`` in-process: exit code, stdout, stderr."""
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def live_target(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with serve(_UNBROKEN) as base_url:
        yield base_url


def _entry(failed_run: FailedRun, method: str, path_end: str) -> dict[str, object]:
    entries = failed_run.har()["log"]["entries"]
    return next(
        e
        for e in entries
        if e["request"]["method"] == method and e["request"]["url"].split("?")[0].endswith(path_end)
    )


def test_one_request_replayed_with_the_same_status_exits_0(failed_run: FailedRun, live_target: str) -> None:
    create = _entry(failed_run, "POST", "/calls")
    har = str(failed_run.directory / "exchanges.har")
    code, out, _ = cli(["replay", har, "--id", str(create["_id"]), "--target", live_target])
    assert code == 0, out
    assert f"{create['_id']}  POST {live_target}/accounts/9900000/calls  [same status]" in out
    assert "recorded: 201" in out
    assert "now: 201" in out


def test_a_flow_replayed_in_order_reports_what_differs(failed_run: FailedRun, live_target: str) -> None:
    # The recorded call does not exist on a fresh target: its getCallState now answers 404.
    events = str(failed_run.directory / "events.ndjson")
    code, out, _ = cli(["replay", events, "--id", FLOW_TEST, "--target", live_target])
    assert code == 1, out
    lines = [line for line in out.splitlines() if line.startswith("main.r")]
    assert any(" POST " in line and line.endswith("/calls  [same status]") for line in lines)
    differing = [line for line in lines if "STATUS DIFFERS" in line]
    assert len(differing) == 1
    assert "GET" in differing[0]
    assert "now: 404" in out
    assert "oauth2/token" not in out  # token requests are not replayed
    assert ENV["BW_CLIENT_SECRET"] not in out


def test_bad_file_id_or_target_exit_2(
    failed_run: FailedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    har = str(failed_run.directory / "exchanges.har")
    code, _, err = cli(["replay", har, "--id", "no-such-test"])
    assert (code, "no exchange or test 'no-such-test'" in err) == (2, True)
    (tmp_path / "junk.har").write_text(json.dumps({"log": {"entries": [{"nothing": 1}]}}))
    code, _, err = cli(["replay", str(tmp_path / "junk.har"), "--id", "x"])
    assert (code, "not a bw-conformance HAR" in err) == (2, True)
    code, _, err = cli(["replay", str(tmp_path / "missing.har"), "--id", "x"])
    assert (code, "cannot read" in err) == (2, True)
    # The run's own target (a broken simulator since stopped) is gone.
    code, _, err = cli(["replay", har, "--id", FLOW_TEST])
    assert (code, "unreachable" in err) == (2, True)
