"""``bw-conformance run``: run the shipped suites against a target and summarise by area."""

from __future__ import annotations

import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest

from conformance.errors import ConformanceError
from conformance.settings import Settings, load_settings

AREAS = ("api", "bxml", "flows")


@dataclass
class Failure:
    nodeid: str
    area: str
    rule: str
    evidence: str
    reproduce: str


@dataclass
class Outcomes:
    """What a run found, gathered by :class:`_Collector` (usable without the CLI)."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {a: {"passed": 0, "failed": 0, "skipped": 0} for a in (*AREAS, "other")}
    )
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(area["failed"] for area in self.counts.values())


def _area(item_keywords: Any) -> str:
    for area in AREAS:
        if area in item_keywords:
            return area
    return "other"


def _rule_of(exc: BaseException) -> str:
    """The name of the rule a failure broke: our errors carry ``rule``/``reason``; schemathesis
    failures carry a ``title``; exception groups are named by their first member."""
    for attribute in ("rule", "reason"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            return value
    title = getattr(exc, "title", None)
    if isinstance(title, str) and title:
        return title
    members = getattr(exc, "exceptions", None)
    if isinstance(members, tuple) and members and isinstance(members[0], BaseException):
        return _rule_of(members[0])
    return type(exc).__name__


def _rule_and_evidence(report: pytest.TestReport) -> tuple[str, str]:
    longrepr = report.longrepr
    rule = "assertion"
    evidence = str(longrepr)
    reprcrash = getattr(longrepr, "reprcrash", None)
    if reprcrash is not None:
        message: str = reprcrash.message
        evidence = message
        head = message.split(":", 1)[0].strip()
        if head and " " not in head:
            rule = head
    return rule, evidence


class _Collector:
    def __init__(self, outcomes: Outcomes, reproduce_prefix: list[str]) -> None:
        self.outcomes = outcomes
        self.reproduce_prefix = reproduce_prefix
        self._areas: dict[str, str] = {}
        self._rules: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self._areas[item.nodeid] = _area(item.keywords)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # With --workers the items are collected in the workers; reports still carry their keywords.
        area = self._areas.get(report.nodeid) or _area(report.keywords)
        counts = self.outcomes.counts[area]
        # A failed subtest is listed with its own evidence; its test is counted once, as failed.
        subtest = type(report).__name__ == "SubtestReport"
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        if report.failed:
            if not subtest:
                counts["failed"] += 1
            rule, evidence = _rule_and_evidence(report)
            rule = self._rules.get(report.nodeid, rule)
            if subtest or not self._listed(report.nodeid):
                name = report.nodeid.split("::", 1)[-1]
                command = shlex.join([*self.reproduce_prefix, "-k", name])
                self.outcomes.failures.append(Failure(report.nodeid, area, rule, evidence, command))
        elif not subtest:
            counts["skipped" if report.skipped else "passed"] += 1

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        report = yield
        if call.excinfo is not None:
            self._rules[item.nodeid] = _rule_of(call.excinfo.value)
        return report

    def _listed(self, nodeid: str) -> bool:
        return any(failure.nodeid == nodeid for failure in self.outcomes.failures)


def _print_summary(outcomes: Outcomes) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False)
    table = Table(title="Conformance by area")
    for column in ("area", "passed", "failed", "skipped"):
        table.add_column(column, justify="left" if column == "area" else "right")
    for area, counts in outcomes.counts.items():
        if area == "other" and not any(counts.values()):
            continue
        style = "red" if counts["failed"] else "green"
        table.add_row(area, str(counts["passed"]), f"[{style}]{counts['failed']}[/]", str(counts["skipped"]))
    console.print(table)
    for failure in outcomes.failures:
        console.print(f"[bold red]FAIL[/] {failure.nodeid}  [yellow]{failure.rule}[/]")
        excerpt = failure.evidence if len(failure.evidence) < 2000 else failure.evidence[:2000] + " ..."
        console.print(excerpt, markup=False, highlight=False)
        console.print(f"  reproduce: {failure.reproduce}", markup=False, highlight=False)


def pytest_args(
    settings: Settings,
    *,
    markexpr: str | None,
    keyword: str | None,
    junitxml: str | None,
    workers: int | None,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The pytest command line that runs the shipped suites for ``settings``."""
    args = [
        "--pyargs",
        "conformance.suites",
        "-p",
        "no:cacheprovider",
        # `conformance` is already imported (this command lives in it), so pytest cannot rewrite the
        # plugin package's asserts; the suites themselves are imported later and are rewritten.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
    ]
    for option, value in (
        ("--bw-target", settings.target),
        ("--bw-spec", settings.spec),
        ("--bw-account-id", settings.account_id),
        ("--bw-callback-base-url", settings.callback_base_url),
        ("--bw-profile", settings.profile),
        ("--bw-max-examples", str(settings.max_examples)),
        ("--bw-username", settings.username),
        ("--bw-password", settings.password),
        ("--bw-application-id", settings.application_id),
        ("--bw-number", settings.number),
        ("--bw-loopback-number", settings.loopback_number),
    ):
        if value:
            args += [option, value]
    marks = [f"({markexpr})"] if markexpr else []
    if settings.profile == "sandbox":
        marks.append("sandbox_safe")
    if marks:
        args += ["-m", " and ".join(marks)]
    if keyword:
        args += ["-k", keyword]
    if junitxml:
        args += ["--junitxml", junitxml]
    if workers and workers > 1:
        args += ["-n", str(workers)]
    return [*args, *extra]


def _reproduce_prefix(settings: Settings, given_target: str | None) -> list[str]:
    prefix = ["bw-conformance", "run"]
    if given_target:
        prefix += ["--target", given_target]
    if settings.profile != "simulator":
        prefix += ["--profile", settings.profile]
    return prefix


def run_suites(
    settings: Settings,
    *,
    markexpr: str | None = None,
    keyword: str | None = None,
    junitxml: str | None = None,
    workers: int | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[int, Outcomes]:
    """Run the shipped suites; return pytest's exit code and the outcomes by area.

    With no target in ``settings`` the embedded simulator is started once here and shared by
    every worker.
    """
    from conformance.target import open_target

    outcomes = Outcomes()
    given_target = settings.target
    with ExitStack() as stack:
        # An empty ini file of our own: the suites must not pick up the configuration (testpaths,
        # addopts, filterwarnings) of whatever project the command happens to run in.
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bw-conformance-")))
        (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        rootdir = Path(__file__).resolve().parent.parent.parent  # holds the `conformance` package
        extra = ("-c", str(workdir / "pytest.ini"), "--rootdir", str(rootdir), *extra)
        target = stack.enter_context(open_target(settings))
        collector = _Collector(outcomes, _reproduce_prefix(settings, given_target))
        args = pytest_args(
            target.settings,
            markexpr=markexpr,
            keyword=keyword,
            junitxml=junitxml,
            workers=workers,
            extra=extra,
        )
        code = pytest.main(args, plugins=[collector])
    return int(code), outcomes


def _exit_code(pytest_code: int) -> int:
    if pytest_code == pytest.ExitCode.OK:
        return 0
    if pytest_code == pytest.ExitCode.TESTS_FAILED:
        return 1
    return 2  # interrupted, internal error, usage error, or no tests collected


@click.command("run", context_settings={"ignore_unknown_options": False})
@click.option(
    "--target", metavar="URL", help="Base URL of the Voice API under test (default: embedded simulator)."
)
@click.option(
    "-m",
    "markexpr",
    metavar="MARKEXPR",
    help="Only run tests matching this mark expression (api, bxml, flows, ...).",
)
@click.option("-k", "keyword", metavar="EXPR", help="Only run tests whose names match this expression.")
@click.option("--junitxml", metavar="PATH", help="Write a JUnit XML report for CI systems.")
@click.option(
    "--workers", type=click.IntRange(min=1), metavar="N", help="Run tests in N processes (pytest-xdist)."
)
@click.option(
    "--profile",
    type=click.Choice(["simulator", "sandbox"]),
    help="sandbox: only what is safe on a real account (paced, bounded, no call-creation fuzzing).",
)
@click.option(
    "--max-examples", type=click.IntRange(min=1), metavar="N", help="Examples per operation or property."
)
@click.option(
    "--spec", metavar="PATH", help="OpenAPI document to test against (default: the packaged contract)."
)
@click.option("--account-id", metavar="ID", help="Account id (default: BW_ACCOUNT_ID).")
@click.option("--callback-base-url", metavar="URL", help="Where the target can reach the webhook sink.")
def command(
    target: str | None,
    markexpr: str | None,
    keyword: str | None,
    junitxml: str | None,
    workers: int | None,
    profile: str | None,
    max_examples: int | None,
    spec: str | None,
    account_id: str | None,
    callback_base_url: str | None,
) -> None:
    """Run the conformance suites (api, bxml, flows) against a target.

    With no --target the embedded reference simulator is started and every suite runs against it.
    Credentials come from BW_USERNAME / BW_PASSWORD / BW_ACCOUNT_ID (see the README).
    Exit codes: 0 all passed, 1 conformance failures found, 2 usage/configuration error or
    unreachable target.
    """
    try:
        settings = load_settings(
            {
                "target": target,
                "profile": profile,
                "max_examples": max_examples,
                "spec": spec,
                "account_id": account_id,
                "callback_base_url": callback_base_url,
            }
        )
        code, outcomes = run_suites(
            settings, markexpr=markexpr, keyword=keyword, junitxml=junitxml, workers=workers
        )
    except ConformanceError as exc:
        click.echo(f"bw-conformance run: {exc}", err=True)
        sys.exit(2)
    _print_summary(outcomes)
    sys.exit(_exit_code(code))


__all__ = ["Failure", "Outcomes", "command", "pytest_args", "run_suites"]
