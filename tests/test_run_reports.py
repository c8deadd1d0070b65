"""``run --report``: an interrupted run (``--max-time``) still leaves every report whole."""

from __future__ import annotations

import json
from pathlib import Path

from tests.trust_helpers import run_command


def test_a_run_stopped_by_max_time_leaves_complete_reports(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_command(
        "-m", "flows", "--max-time", "2", "--report", "html,junit,ndjson,har", "--report-dir", str(reports),
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "--max-time 2" in result.stdout
    assert sorted(p.name for p in reports.iterdir()) == [
        "events.ndjson",
        "exchanges.har",
        "junit.xml",
        "report.html",
    ]
    page = (reports / "report.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>")
    assert "Stopped: the run exceeded --max-time 2 s" in page
    assert 'class="verdict not-run"' in page  # the flows the deadline cut off are listed as such
    har = json.loads((reports / "exchanges.har").read_text(encoding="utf-8"))
    lines = (reports / "events.ndjson").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert events[-1]["event"] == "run_end"
    assert events[-1]["stopped"]
    assert len(har["log"]["entries"]) == sum(1 for e in events if e["event"] in ("request", "webhook"))
