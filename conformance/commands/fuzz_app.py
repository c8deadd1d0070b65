"""``bw-conformance fuzz-app URL``: send generated webhooks to a voice app and check every reply.

Exit codes: 0 nothing found, 1 problems found, 2 usage error or app unreachable at start.
"""

from __future__ import annotations

from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from conformance.commands.app_auth import basic_auth_options, basic_pair
from conformance.commands.output import Console
from conformance.errors import ConformanceError
from conformance.fuzz.report import FuzzReport
from conformance.fuzz.runner import Progress as FuzzProgress
from conformance.fuzz.runner import fuzz_app
from conformance.hypothesis_cache import hypothesis_home


def _routes(values: tuple[str, ...]) -> dict[str, str]:
    routes: dict[str, str] = {}
    for value in values:
        event, sep, url = value.partition("=")
        if not sep or not event.strip() or not url.strip():
            raise click.BadParameter(f"expected EVENT=URL, got {value!r}", param_hint="--route")
        routes[event.strip()] = url.strip()
    return routes


def _events(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("give at least one event name", param_hint="--events")
    return names


def render(report: FuzzReport, console: Console) -> None:
    """The table by event type, then every finding with its reproduction."""
    table = Table(title=f"fuzz-app: {report.summary()}", title_justify="left")
    table.add_column("event")
    table.add_column("expects")
    table.add_column("sent", justify="right")
    table.add_column("result")
    for stat in report.stats.values():
        result = "[green]ok[/]" if stat.ok else "[red]" + ", ".join(stat.failed_checks) + "[/]"
        table.add_row(stat.event, stat.expects, str(stat.sent), result)
    console.print(table)
    if report.sequences_run:
        console.print(f"sequences replayed: {', '.join(report.sequences_run)}")
    for finding in report.findings:
        console.print()
        console.print(finding.describe(), markup=False, highlight=False, soft_wrap=True)
    if report.findings:
        console.print()
        console.print(f"replay this run with --seed {report.seed}", highlight=False)


@click.command("fuzz-app")
@click.argument("url")
@click.option(
    "--route", "route", multiple=True, metavar="EVENT=URL", help="Send one event type to another URL."
)
@click.option("--events", metavar="LIST", help="Comma-separated event types to fuzz (default: all).")
@click.option("--max-examples", type=click.IntRange(min=1), default=50, show_default=True, metavar="N")
@click.option("--seed", type=click.IntRange(min=0), metavar="N", help="Seed for a reproducible run.")
@click.option(
    "--callback-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=15.0,
    show_default=True,
    metavar="S",
    help="Seconds the app has to send its whole reply to each webhook (one deadline, however it streams).",
)
@click.option("--method", type=click.Choice(["GET", "POST"]), default="POST", show_default=True)
@basic_auth_options("Basic auth user name.")
@click.pass_context
def command(
    ctx: click.Context,
    url: str,
    route: tuple[str, ...],
    events: str | None,
    max_examples: int,
    seed: int | None,
    callback_timeout: float,
    method: str,
    username: str | None,
    password: str | None,
) -> None:
    """Fuzz the voice app at URL with generated webhooks and check every reply.

    Each webhook event of the contract is generated from its schema and sent (POST with JSON, or
    GET with query parameters); BXML events must get valid BXML for their context, others any 2xx,
    always within the callback timeout.  Exit codes: 0 nothing found, 1 problems found, 2 usage
    error or app unreachable at start.
    """
    auth = basic_pair(username, password)
    console = Console(stderr=True)
    out = Console()
    options: dict[str, Any] = {
        "routes": _routes(route),
        "events": _events(events),
        "max_examples": max_examples,
        "seed": seed,
        "callback_timeout": callback_timeout,
        "method": method,
        "auth": auth,
    }
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def progress(update: FuzzProgress) -> None:
            label = f"{update.phase} {update.name} · {update.sent} webhooks sent"
            bar.update(task, description=label, completed=update.index - 1, total=update.total)

        try:
            with hypothesis_home():  # its caches in the user's cache directory, not in the cwd
                report = fuzz_app(url, progress=progress, **options)
        except ConformanceError as exc:
            bar.stop()
            click.echo(f"bw-conformance fuzz-app: {exc}", err=True)
            ctx.exit(2)
    render(report, out)
    ctx.exit(0 if report.ok else 1)


__all__ = ["command", "render"]
