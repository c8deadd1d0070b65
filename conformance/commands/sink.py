"""``bw-conformance sink``: a standalone webhook sink that prints and records every callback.

Every path is accepted (the sink's catch-all scope).  Each webhook is printed as it arrives with
the problems found in its payload; ``--log`` appends one JSON line per request; ``--reply
EVENT=FILE`` answers an event with the BXML in FILE; ``--fault`` fails one on purpose.  Ctrl-C (or
``--max-requests``) stops it; the exit code is 1 when any webhook broke the contract, else 0.
"""

from __future__ import annotations

import threading
from pathlib import Path

import click

from conformance.errors import ConformanceError
from conformance.webhooks.records import Webhook
from conformance.webhooks.script import Fault
from conformance.webhooks.sink import WebhookSink


def _parse_replies(values: tuple[str, ...]) -> list[tuple[str, bytes]]:
    replies: list[tuple[str, bytes]] = []
    for value in values:
        event, sep, filename = value.partition("=")
        if not sep or not event or not filename:
            raise click.BadParameter(f"expected EVENT=FILE, got {value!r}", param_hint="--reply")
        try:
            replies.append((event, Path(filename).read_bytes()))
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {filename!r}: {exc.strerror}", param_hint="--reply"
            ) from exc
    return replies


def _parse_faults(values: tuple[str, ...]) -> list[tuple[str, Fault]]:
    faults: list[tuple[str, Fault]] = []
    for value in values:
        event, sep, spec = value.partition("=")
        fault: Fault | None = None
        if spec == "drop":
            fault = Fault(drop=True)
        elif spec.isdigit():
            fault = Fault(status=int(spec))
        elif spec.startswith("delay:"):
            try:
                fault = Fault(delay=float(spec.removeprefix("delay:")))
            except ValueError:
                fault = None
        if not sep or not event or fault is None:
            raise click.BadParameter(
                f"expected EVENT=STATUS, EVENT=drop or EVENT=delay:SECONDS, got {value!r}",
                param_hint="--fault",
            )
        faults.append((event, fault))
    return faults


def _reply_warnings(sink: WebhookSink, event: str, body: bytes) -> list[str]:
    """Why a scripted reply would fail on the real platform (it is sent anyway: a test may mean it)."""
    context = sink.catalogue[event].bxml_context
    if context is None:
        return [f"{event} takes no BXML; the platform ignores the reply body"]
    from conformance.bxml import iter_errors

    return [
        f"reply for {event} is not valid {context} BXML: {error}" for error in iter_errors(body, context)
    ][:5]


def describe(webhook: Webhook) -> str:
    """The lines printed for one webhook: what came, what was answered, what is wrong with it."""
    outcome = webhook.outcome
    answer = "dropped" if outcome.dropped else str(outcome.status)
    if outcome.delay:
        answer += f" after {outcome.delay:g} s"
    lines = [f"{webhook.describe()} -> {answer} ({outcome.source})"]
    if webhook.auth is not None:
        lines.append(f"    auth: {webhook.auth[0]}:{'*' * len(webhook.auth[1])}")
    lines.extend(f"    ! {problem}" for problem in webhook.problems)
    return "\n".join(lines)


@click.command(name="sink")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option(
    "--public-base-url",
    envvar="BW_CALLBACK_BASE_URL",
    default=None,
    help="URL at which the target reaches this sink (e.g. a tunnel). [env: BW_CALLBACK_BASE_URL]",
)
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=Path), help="Append JSONL here.")
@click.option(
    "--reply", "replies", multiple=True, metavar="EVENT=FILE", help="Answer EVENT with the BXML in FILE."
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="EVENT=STATUS|drop|delay:SECONDS",
    help="Fail EVENT on purpose: answer STATUS, close the connection, or wait before answering.",
)
@click.option(
    "--max-requests", type=click.IntRange(min=1), default=None, help="Stop after this many requests."
)
def command(
    host: str,
    port: int,
    public_base_url: str | None,
    log_path: Path | None,
    replies: tuple[str, ...],
    faults: tuple[str, ...],
    max_requests: int | None,
) -> None:
    """Run a standalone webhook sink that records callbacks."""
    scripted = _parse_replies(replies)
    failing = _parse_faults(faults)
    done = threading.Event()
    seen = 0

    def on_webhook(webhook: Webhook) -> None:
        nonlocal seen
        click.echo(describe(webhook))
        seen += 1
        if max_requests is not None and seen >= max_requests:
            done.set()

    try:
        sink = WebhookSink(
            host, port, public_base_url=public_base_url, log_path=log_path, on_webhook=on_webhook
        )
        scope = sink.catch_all()
        for event, fault in failing:
            scope.fault(event, status=fault.status, delay=fault.delay, drop=fault.drop)
        for event, body in scripted:
            scope.reply(event, body)
            for warning in _reply_warnings(sink, event, body):
                click.echo(f"warning: {warning}", err=True)
        sink.start()
    except ConformanceError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(
        f"sink listening on {sink.local_url}" + (f" (public {sink.base_url})" if public_base_url else "")
    )
    try:
        done.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        sink.stop()
    bad = sum(1 for webhook in sink.requests if webhook.problems)
    click.echo(f"{len(sink.requests)} request(s) received, {bad} with problems")
    for error in sink.errors:
        click.echo(f"error while serving: {error!r}", err=True)
    if bad or sink.errors:
        raise click.exceptions.Exit(1)


__all__ = ["command", "describe"]
