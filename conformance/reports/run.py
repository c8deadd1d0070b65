"""What a run leaves for its reports: tests with their verdicts, every exchange, every flow checked.

:func:`gather` joins the parent's :class:`~conformance.running.Outcomes` (verdicts, rules, reproduce
commands) with the records the test processes spooled (:mod:`conformance.reports.recording`);
:func:`redacted` passes every text through the run's :class:`~conformance.redaction.Redactor`;
:func:`write_atomic` writes a file whole (temporary name, then rename).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from conformance.redaction import Redactor
from conformance.reports.recording import read_spool

__all__ = ["FORMATS", "CaseResult", "RunData", "gather", "redacted", "write_atomic"]

_INTERRUPTED = 2  # pytest.ExitCode.INTERRUPTED

#: Report formats and the file each writes in the report directory.
FORMATS = {"html": "report.html", "junit": "junit.xml", "ndjson": "events.ndjson", "har": "exchanges.har"}


@dataclass
class CaseResult:
    nodeid: str
    area: str
    outcome: str  # passed | failed | skipped | error (the user's setup) | not run
    rule: str = ""
    evidence: str = ""
    reproduce: str = ""
    start: float | None = None
    end: float | None = None


@dataclass
class RunData:
    properties: dict[str, str]
    counts: dict[str, dict[str, int]]
    tests: list[CaseResult]
    exchanges: list[dict[str, Any]]  # in time order
    flows: list[dict[str, Any]]
    stopped: str | None = None
    exit_code: int | None = None
    started: float | None = None
    finished: float | None = None
    by_test: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def exchanges_of(self, nodeid: str) -> list[dict[str, Any]]:
        if not self.by_test:
            for record in self.exchanges:
                self.by_test.setdefault(str(record.get("test")), []).append(record)
        return self.by_test.get(nodeid, [])

    def flows_of(self, nodeid: str) -> list[dict[str, Any]]:
        return [flow for flow in self.flows if flow.get("test") == nodeid]


def gather(
    spool: Path | None,
    outcomes: Any,
    selected: Iterable[tuple[str, str]],
    *,
    exit_code: int | None = None,
    started: float | None = None,
    finished: float | None = None,
) -> RunData:
    """The run's data from its outcomes and its spool directory (``None``: nothing recorded)."""
    records = list(read_spool(spool)) if spool is not None else []
    exchanges = sorted((r for r in records if r.get("kind") == "exchange"), key=lambda r: float(r["time"]))
    flows = [r for r in records if r.get("kind") == "flow"]
    times: dict[str, dict[str, float]] = {}
    for record in records:
        if record.get("kind") == "test":
            times.setdefault(str(record["test"]), {})[str(record["event"])] = float(record["time"])
    failures = {failure.nodeid: failure for failure in outcomes.failures}
    errors = {problem.split(": ", 1)[0]: problem for problem in outcomes.setup_errors}
    tests: list[CaseResult] = []
    for nodeid, area in selected:
        outcome = outcomes.results.get(nodeid, "not run")
        found = times.get(nodeid, {})
        result = CaseResult(nodeid, area, outcome, start=found.get("start"), end=found.get("end"))
        failure = failures.get(nodeid)
        if failure is not None:
            result.rule, result.evidence, result.reproduce = failure.rule, failure.evidence, failure.reproduce
        elif nodeid in errors:
            result.outcome, result.rule, result.evidence = "error", "setup", errors[nodeid]
        tests.append(result)
    info = outcomes.info
    return RunData(
        properties=info.properties() if info is not None else {},
        counts=outcomes.counts,
        tests=tests,
        exchanges=exchanges,
        flows=flows,
        stopped=outcomes.stopped or ("the run was interrupted" if exit_code == _INTERRUPTED else None),
        exit_code=exit_code,
        started=started,
        finished=finished,
    )


T = TypeVar("T")


def _redact(value: T, redactor: Redactor) -> T:
    if isinstance(value, str):
        return redactor(value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {redactor(str(k)): _redact(v, redactor) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [_redact(v, redactor) for v in value]  # type: ignore[return-value]
    return value


def redacted(data: RunData, redactor: Redactor) -> RunData:
    """A copy of ``data`` with every text passed through ``redactor``."""
    tests = [
        replace(
            t,
            nodeid=redactor(t.nodeid),
            rule=redactor(t.rule),
            evidence=redactor(t.evidence),
            reproduce=redactor(t.reproduce),
        )
        for t in data.tests
    ]
    return replace(
        data,
        properties=_redact(data.properties, redactor),
        tests=tests,
        exchanges=_redact(data.exchanges, redactor),
        flows=_redact(data.flows, redactor),
        stopped=redactor(data.stopped) if data.stopped else None,
        by_test={},
    )


def write_atomic(path: Path, text: str, redactor: Redactor | None = None) -> None:
    """Write ``text`` to ``path`` whole: a temporary name beside it, then a rename.  ``redactor``
    is a last pass over the file's text (secrets as escaped by the format included by the caller)."""
    if redactor is not None:
        text = redactor(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # No fsync: the rename is what keeps readers from ever seeing half a file; syncing tens of
        # megabytes would only add seconds on a busy disk.
        with open(staging, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
