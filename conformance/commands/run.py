"""``bw-conformance run``: run the shipped suites against a target and summarise by area.

Wiring only: the run itself is :func:`conformance.running.run_suites`.  This module prints what is
tested (first), pytest's progress, and the summary (the table by area, failures by operation,
every failure with its rule, evidence and reproduce command), and maps the outcome to an exit code:
0 all passed, 1 the target broke the contract, 2 the user's setup is wrong or the target is
unreachable (including an empty selection, a missing setting, refused credentials, ``--max-time``).
"""

from __future__ import annotations

import sys
from typing import Any

import click
import pytest

from conformance.errors import ConformanceError
from conformance.running import Failure, Outcomes, RunInfo, pytest_args, run_suites
from conformance.settings import load_settings

__all__ = ["Failure", "Outcomes", "command", "pytest_args", "run_suites"]


def _console(stderr: bool = False) -> Any:
    from conformance.commands.output import Console

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(file=stream, stderr=stderr)
    # Not a terminal (CI, a pipe, a file): never wrap, so ids, commands and JSON stay on one line.
    return Console(file=stream, stderr=stderr, soft_wrap=True, width=200, no_color=True)


def _print_header(info: RunInfo) -> None:
    console = _console()
    where = f"{info.target} (embedded simulator)" if info.embedded else info.target
    tests = f"{info.selected} test" + ("" if info.selected == 1 else "s")
    lines = [
        f"bw-conformance {info.version}: {tests} against {where}",
        f"  answering: {info.server}",
        f"  contract:  {info.contract} (version {info.contract_version})",
        f"  profile {info.profile} · account {info.account} · auth {info.auth}",
        f"  max examples {info.max_examples} · seed {info.seed} (repeat with --seed {info.seed})",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False)


def _print_summary(outcomes: Outcomes) -> None:
    from rich.table import Table

    console = _console()
    target = outcomes.info.target if outcomes.info else "?"
    table = Table(title=f"Conformance by area: {target}")
    for column in ("area", "passed", "failed", "skipped"):
        table.add_column(column, justify="left" if column == "area" else "right")
    for area, counts in outcomes.counts.items():
        if area == "other" and not any(counts.values()):
            continue
        style = "red" if counts["failed"] else "green"
        table.add_row(area, str(counts["passed"]), f"[{style}]{counts['failed']}[/]", str(counts["skipped"]))
    console.print(table)
    by_operation = outcomes.failures_by_operation()
    if by_operation:
        operations = Table(title="api failures by operation")
        operations.add_column("operation")
        operations.add_column("failed", justify="right")
        for operation, count in sorted(by_operation.items()):
            operations.add_row(operation, str(count))
        console.print(operations)
    for failure in outcomes.failures:
        console.print(f"[bold red]FAIL[/] {failure.nodeid}  [yellow]{failure.rule}[/]", soft_wrap=True)
        excerpt = failure.evidence if len(failure.evidence) < 2000 else failure.evidence[:2000] + " ..."
        console.print(excerpt, markup=False, highlight=False)
        console.print(f"  reproduce: {failure.reproduce}", markup=False, highlight=False)
    for problem in outcomes.setup_errors:
        console.print(f"[bold yellow]SETUP[/] {problem}", soft_wrap=True)
    if outcomes.stopped:
        console.print(f"[bold yellow]STOPPED[/] {outcomes.stopped}", soft_wrap=True)


def _exit_code(pytest_code: int, outcomes: Outcomes) -> int:
    if outcomes.stopped or outcomes.setup_errors:
        return 2  # the deadline or the user's setup, never the target's contract
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
    "--report",
    "report",
    metavar="FORMATS",
    help="Reports to write, comma-separated: html (sequence diagrams), junit, ndjson (events), har "
    "(every HTTP exchange). Written even when the run fails or is stopped.",
)
@click.option(
    "--report-dir",
    metavar="DIR",
    default="bw-conformance-report",
    show_default=True,
    help="Where --report writes its files.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), metavar="N", help="Run tests in N processes (pytest-xdist)."
)
@click.option(
    "--profile",
    type=click.Choice(["simulator", "sandbox"]),
    help="sandbox: only what is safe on a real account (paced, bounded, no call-creation fuzzing).",
)
@click.option(
    "--auth",
    type=click.Choice(["oauth2", "basic"]),
    help="oauth2: client credentials (BW_CLIENT_ID/BW_CLIENT_SECRET); basic: legacy API user "
    "(BW_USERNAME/BW_PASSWORD). Default: oauth2 when a client id is set.",
)
@click.option(
    "--max-examples", type=click.IntRange(min=1), metavar="N", help="Examples per operation or property."
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    metavar="N",
    help="Seed of every generated case (default: random, printed).",
)
@click.option("--max-failures", type=click.IntRange(min=1), metavar="N", help="Stop after N failed tests.")
@click.option(
    "--max-time",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="Stop the whole run after S seconds (exit 2, with the reason).",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="Seconds for any one request to the target (default 30).",
)
@click.option(
    "--spec", metavar="PATH", help="OpenAPI document to test against (default: the packaged contract)."
)
@click.option("--account-id", metavar="ID", help="Account id (default: BW_ACCOUNT_ID).")
@click.option("--callback-base-url", metavar="URL", help="Where the target can reach the webhook sink.")
@click.option(
    "--stream-base-url", metavar="URL", help="ws(s) URL where the target can reach the media-stream sink."
)
def command(
    target: str | None,
    markexpr: str | None,
    keyword: str | None,
    junitxml: str | None,
    report: str | None,
    report_dir: str,
    workers: int | None,
    profile: str | None,
    auth: str | None,
    max_examples: int | None,
    seed: int | None,
    max_failures: int | None,
    max_time: float | None,
    request_timeout: float | None,
    spec: str | None,
    account_id: str | None,
    callback_base_url: str | None,
    stream_base_url: str | None,
) -> None:
    """Run the conformance suites (api, bxml, flows) against a target.

    With no --target the embedded reference simulator is started and every suite runs against it
    (OAuth2, as every client must from 2026-12-02). For another target set BW_CLIENT_ID,
    BW_CLIENT_SECRET and BW_ACCOUNT_ID (or the legacy BW_USERNAME / BW_PASSWORD with --auth basic);
    see the README for the rest. Secrets are read from the environment only and never printed.

    Exit codes: 0 all passed, 1 the target broke the contract, 2 setup error (bad or missing
    setting, refused credentials, unreachable target, empty selection, --max-time reached).
    """
    formats: list[str] = []
    if report:
        from conformance.reports import parse_formats

        try:
            formats = parse_formats(report)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--report") from None
    try:
        settings = load_settings(
            {
                "target": target,
                "profile": profile,
                "auth": auth,
                "max_examples": max_examples,
                "seed": seed,
                "max_failures": max_failures,
                "max_time": max_time,
                "request_timeout": request_timeout,
                "spec": spec,
                "account_id": account_id,
                "callback_base_url": callback_base_url,
                "stream_base_url": stream_base_url,
            }
        )
        code, outcomes = run_suites(
            settings,
            markexpr=markexpr,
            keyword=keyword,
            junitxml=junitxml,
            workers=workers,
            on_start=_print_header,
            reports=formats,
            report_dir=report_dir,
        )
    except ConformanceError as exc:
        click.echo(f"bw-conformance run: {exc}", err=True)
        sys.exit(2)
    _print_summary(outcomes)
    if junitxml:
        click.echo(f"JUnit report: {junitxml}")
    for path in outcomes.reports:
        click.echo(f"report: {path}")
    sys.exit(_exit_code(code, outcomes))
