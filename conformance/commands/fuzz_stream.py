"""``bw-conformance fuzz-stream ws://URL``: play the platform's side of a media stream against an app.

Exit codes: 0 nothing found, 1 the app broke the stream contract, 2 usage error or app unreachable.
"""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from conformance.commands.app_auth import basic_auth_options, basic_pair
from conformance.commands.output import Console
from conformance.errors import ConformanceError
from conformance.fuzz.streams import KINDS, StreamFuzzReport, fuzz_stream
from conformance.hypothesis_cache import hypothesis_home


def render(report: StreamFuzzReport, console: Console) -> None:
    """The table by session kind, then every finding with what was sent and how to replay it."""
    table = Table(title=f"fuzz-stream: {report.summary()}", title_justify="left")
    table.add_column("session kind")
    table.add_column("sockets", justify="right")
    table.add_column("messages", justify="right")
    table.add_column("result")
    for stat in report.stats.values():
        result = "[green]ok[/]" if stat.ok else "[red]" + ", ".join(stat.failed_checks) + "[/]"
        table.add_row(stat.kind, str(stat.sessions), str(stat.messages), result)
    console.print(table)
    console.print(f"slowest exchange: {report.slowest:.3f} s", highlight=False)
    for finding in report.findings:
        console.print()
        console.print(finding.describe(), markup=False, highlight=False, soft_wrap=True)
    if report.findings:
        console.print()
        console.print(f"replay this run with --seed {report.seed}", highlight=False)


def _kinds(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in KINDS]
    if not names or unknown:
        raise click.BadParameter(f"choose from {', '.join(KINDS)}", param_hint="--kinds")
    return names


@click.command("fuzz-stream")
@click.argument("url")
@click.option("--sessions", type=click.IntRange(min=1), default=40, show_default=True, metavar="N")
@click.option(
    "--kinds", metavar="LIST", help=f"Comma-separated session kinds (default: all of {', '.join(KINDS)})."
)
@click.option("--seed", type=click.IntRange(min=0), metavar="N", help="Seed for a reproducible run.")
@click.option(
    "--session", "only_session", type=click.IntRange(min=1), metavar="N", help="Replay one session."
)
@click.option("--bidirectional", is_flag=True, help="Check what the app sends back (playAudio, clear).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="S",
    help="Seconds for one whole exchange: handshake, every message, the close.",
)
@basic_auth_options("Basic auth user name on the upgrade request.")
@click.pass_context
def command(
    ctx: click.Context,
    url: str,
    sessions: int,
    kinds: str | None,
    seed: int | None,
    only_session: int | None,
    bidirectional: bool,
    timeout: float,
    username: str | None,
    password: str | None,
) -> None:
    """Play the platform's side of <StartStream> against the stream handler at URL (ws:// or wss://).

    Realistic and hostile start messages, media of many lengths and contents, duplicate start, no
    stop, abrupt closes and garbage; the app must finish each exchange within the timeout, never
    close with an error or drop the connection, keep accepting calls and, with --bidirectional, send
    only well-formed playAudio/clear messages.  Exit codes: 0 nothing found, 1 problems found, 2 usage
    error or app unreachable.
    """
    auth = basic_pair(username, password)
    options = {
        "sessions": sessions,
        "kinds": _kinds(kinds),
        "seed": seed,
        "only_session": only_session,
        "bidirectional": bidirectional,
        "timeout": timeout,
        "auth": auth,
    }
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("sockets", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            with hypothesis_home():  # its caches in the user's cache directory, not in the cwd
                report = fuzz_stream(url, progress=progress, **options)
        except ConformanceError as exc:
            bar.stop()
            click.echo(f"bw-conformance fuzz-stream: {exc}", err=True)
            ctx.exit(2)
    render(report, Console())
    ctx.exit(0 if report.ok else 1)


__all__ = ["command", "render"]
