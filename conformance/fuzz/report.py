"""Findings and the report of one fuzzing run, as data (the CLI and the fixture only render them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance.fuzz.checks import BxmlProblem


@dataclass(frozen=True)
class Finding:
    """A reply that failed a check, for the smallest payload hypothesis could shrink it to."""

    event: str
    check: str
    message: str
    method: str
    url: str
    payload: dict[str, Any]
    status: int | None
    body_excerpt: str
    curl: str
    bxml_errors: tuple[BxmlProblem, ...] = ()
    scenario: str | None = None  # set when found while replaying a sequence
    step: int | None = None  # index of the failing webhook in that sequence
    preceding: tuple[tuple[str, dict[str, Any]], ...] = ()  # the sequence's earlier webhooks
    setup_curls: tuple[str, ...] = ()  # curl commands that send those earlier webhooks, in order

    @property
    def bxml_error(self) -> BxmlProblem | None:
        return self.bxml_errors[0] if self.bxml_errors else None

    def describe(self) -> str:
        """A plain-text account: what was sent, what came back, why it fails, how to reproduce."""
        where = (
            f" (step {self.step + 1} of sequence {self.scenario!r})"
            if self.scenario and self.step is not None
            else ""
        )
        lines = [f"{self.event}: {self.check}{where}", f"  {self.message}"]
        lines.append(f"  sent: {self.method} {self.url}")
        lines.append("  payload: " + json.dumps(self.payload, ensure_ascii=False, sort_keys=True))
        status = "no reply" if self.status is None else f"HTTP {self.status}"
        lines.append(
            f"  reply: {status} {self.body_excerpt!r}" if self.body_excerpt else f"  reply: {status}"
        )
        for problem in self.bxml_errors[:3]:
            lines.append(f"  bxml: {problem}")
        if self.preceding:
            lines.append(f"  after: {', '.join(name for name, _ in self.preceding)} (same call, sent first)")
            for command in self.setup_curls:
                lines.append(f"  first: {command}")
        lines.append(f"  reproduce: {self.curl}")
        return "\n".join(lines)


@dataclass
class EventStats:
    """Per-event counters: webhooks sent and the checks that failed."""

    event: str
    expects: str  # "call BXML", "conference BXML (or empty)", "any 2xx" ...
    sent: int = 0
    failed_checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed_checks


@dataclass
class FuzzReport:
    """The outcome of :func:`conformance.fuzz.fuzz_app`."""

    seed: int
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, EventStats] = field(default_factory=dict)
    sequences_run: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def sent(self) -> int:
        return sum(s.sent for s in self.stats.values())

    def checks_failed(self) -> set[tuple[str, str]]:
        """``{(event, check), ...}`` for every finding."""
        return {(f.event, f.check) for f in self.findings}

    def summary(self) -> str:
        verdict = "no problems found" if self.ok else f"{len(self.findings)} problem(s) found"
        return f"{self.sent} webhooks sent to {len(self.stats)} event types (seed {self.seed}): {verdict}"

    def format_text(self) -> str:
        lines = [self.summary()]
        for stat in self.stats.values():
            mark = "ok" if stat.ok else "FAIL " + ", ".join(stat.failed_checks)
            lines.append(f"  {stat.event:<30} {stat.sent:>6} sent  {mark}")
        for finding in self.findings:
            lines.append("")
            lines.append(finding.describe())
        if self.findings:
            lines.append("")
            lines.append(f"rerun with --seed {self.seed} to replay this run")
        return "\n".join(lines)


__all__ = ["EventStats", "Finding", "FuzzReport"]
