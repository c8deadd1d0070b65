"""``bw-conformance``: the command line.  Wiring only; every command lives in ``conformance.commands``.

Exit codes shared by every command: 0 success, 1 conformance problems found, 2 usage or
configuration error (including an unreachable target).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any

import click

from conformance import __version__

# name -> "module:attribute"; modules are imported only when their command runs, so
# ``bw-conformance --help`` stays fast and one broken command cannot take the others down.
_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("conformance.commands.run", "Run the conformance suites against a target."),
    "serve": ("conformance.commands.serve", "Run the embedded reference simulator."),
    "bxml": ("conformance.commands.bxml", "Validate or generate BXML documents."),
    "fuzz-app": ("conformance.commands.fuzz_app", "Fuzz a voice app's webhook handlers."),
    "fuzz-stream": ("conformance.commands.fuzz_stream", "Fuzz a voice agent's media-stream websocket."),
    "sink": ("conformance.commands.sink", "Run a standalone webhook sink that records callbacks."),
    "replay": (
        "conformance.commands.replay",
        "Send a run's recorded requests again and compare the answers.",
    ),
}


class _LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a closed standard output (``bw-conformance run | head``) ends it with
        exit code 2 and one line on stderr.  Left to click, it would end silently with exit code 1,
        which says the target broke the contract."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _output_closed()
            ctx.exit(2)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command = module.command
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bw-conformance")
def main() -> None:
    """Conformance testing for the Bandwidth Voice API: REST, BXML and webhooks.

    With no target, commands run against the embedded reference simulator.
    """


def _output_closed() -> None:
    """Point stdout at nothing (Python would otherwise fail again flushing it at exit) and say why
    the command stopped, if stderr is still there."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    with contextlib.suppress(OSError, ValueError):
        click.echo("bw-conformance: the output was closed (broken pipe); stopped (exit 2)", err=True)


def run(argv: list[str] | None = None, **kwargs: Any) -> int:
    """Run the CLI in-process and return its exit code (for tests and embedding)."""
    try:
        main.main(args=argv, prog_name="bw-conformance", standalone_mode=False, **kwargs)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError) else exc.exit_code
    except click.exceptions.Abort:
        return 2
    return 0


__all__ = ["main", "run"]
